"""torchvision ``transforms.v2`` on whole Scenes: every label follows the pixels.

    t = SceneTransform(v2.Compose([v2.RandomHorizontalFlip(), v2.RandomResizedCrop(128)]))
    scene = t(scene)

The scene is flattened into a dict of tv_tensors (images, boxes, masks, key
points, semantic/depth maps, flow), the v2 transform runs once on all of them
with the same random parameters, and the result is rebuilt and cleaned up:

- boxes are recomputed as the tight boxes of the transformed masks when masks
  exist (else clamped to the image); objects left with no pixels are dropped;
- key points that left the image get visibility 0; when the transform mirrors
  the image, left/right key points are swapped (``keypoint_flip_pairs``);
- pixels that came from outside the source image (padding, rotation corners)
  become ``IGNORE_INDEX`` in the semantic map and invalid in ``flow_valid``;
  flow whose target leaves the image becomes invalid too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchvision import tv_tensors

import seesall.data.flow_kernels  # noqa: F401  (registers the Flow kernels)
from seesall.structures import IGNORE_INDEX, KP_UNLABELLED, Objects, Scene
from seesall.structures.flow import Flow


class SceneTransform:
    """Apply a ``transforms.v2`` transform to a Scene and keep its labels consistent.

    Args:
        transform: any v2 transform (or Compose) taking a dict of tv_tensors.
        keypoint_flip_pairs: index pairs (left, right) of key points that swap
            names when the image is mirrored, e.g. the person's hands.
        min_area: objects whose transformed mask (or box) covers fewer pixels are dropped.
    """

    def __init__(self, transform: Callable, *, keypoint_flip_pairs: Sequence[tuple[int, int]] = (),
                 min_area: int = 1) -> None:
        self.transform = transform
        self.keypoint_flip_pairs = tuple(keypoint_flip_pairs)
        self.min_area = min_area

    def __call__(self, scene: Scene) -> Scene:
        h, w = scene.size
        flat = _flatten(scene)
        flat["coverage"] = tv_tensors.Mask(torch.ones(h, w, dtype=torch.uint8))
        flat["probe"] = _orientation_probe(h, w)
        out = self.transform(flat)
        mirrored = _is_mirrored(out["probe"])
        covered = out["coverage"].as_subclass(Tensor).bool()
        return self._rebuild(scene, out, covered, mirrored)

    def _rebuild(self, scene: Scene, out: dict, covered: Tensor, mirrored: bool) -> Scene:
        fix = lambda objs: self._clean_objects(objs, mirrored)  # noqa: E731
        changes: dict = {
            "image": out["image"],
            "image2": out.get("image2"),
            "video": out.get("video"),
            "objects": fix(out["objects"]),
            "depth": out.get("depth"),
        }
        if out.get("frame_objects") is not None:
            changes["frame_objects"] = [fix(o) for o in out["frame_objects"]]
        if out.get("semantic") is not None:
            sem = out["semantic"].clone()
            sem[~covered] = IGNORE_INDEX
            changes["semantic"] = sem
        if out.get("flow") is not None:
            changes["flow"], changes["flow_valid"] = _clean_flow(out["flow"], out["flow_valid"], covered)
        return scene.replace(**changes)

    def _clean_objects(self, parts: dict, mirrored: bool) -> Objects:
        boxes, masks = parts["boxes"], parts.get("masks")
        canvas = tuple(boxes.canvas_size)
        if masks is not None:
            masks = tv_tensors.Mask(masks.as_subclass(Tensor).bool())
            boxes = tv_tensors.BoundingBoxes(masks_to_tight_boxes(masks), format="XYXY", canvas_size=canvas)
            keep = masks.flatten(1).sum(1) >= self.min_area
        else:
            boxes = _clamp_boxes(boxes)
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            keep = area >= self.min_area
        kp, vis = parts.get("keypoints"), parts.get("visibility")
        if kp is not None:
            vis = vis.clone()
            x, y = kp[..., 0], kp[..., 1]
            inside = (x >= 0) & (x <= canvas[1] - 1) & (y >= 0) & (y <= canvas[0] - 1)
            vis[~inside] = KP_UNLABELLED
            if mirrored and self.keypoint_flip_pairs:
                kp, vis = _swap_pairs(kp, vis, self.keypoint_flip_pairs)
        objs = Objects(labels=parts["labels"], boxes=boxes, masks=masks, keypoints=kp,
                       visibility=vis, ids=parts.get("ids"), depth=parts.get("depth"),
                       scores=parts.get("scores"))
        return objs[keep]


def masks_to_tight_boxes(masks: Tensor) -> Tensor:
    """Tensor[N, H, W] bool -> Tensor[N, 4] float XYXY with x2 = last column + 1.

    The pixel-edge convention of COCO (a one-pixel object at column 3 is [3, 4)),
    unlike ``torchvision.ops.masks_to_boxes`` whose x2 is the last column itself.
    Empty masks give [0, 0, 0, 0].
    """
    n = masks.shape[0]
    out = torch.zeros(n, 4)
    if n == 0:
        return out
    cols = masks.any(dim=1)  # (N, W)
    rows = masks.any(dim=2)  # (N, H)
    nonempty = cols.any(dim=1)
    w, h = cols.shape[1], rows.shape[1]
    ar_w = torch.arange(w)
    ar_h = torch.arange(h)
    out[:, 0] = torch.where(cols, ar_w, w).amin(1).float()
    out[:, 2] = torch.where(cols, ar_w, -1).amax(1).float() + 1
    out[:, 1] = torch.where(rows, ar_h, h).amin(1).float()
    out[:, 3] = torch.where(rows, ar_h, -1).amax(1).float() + 1
    out[~nonempty] = 0
    return out


def _flatten(scene: Scene) -> dict:
    flat: dict = {"image": scene.image, "objects": _objects_dict(scene.objects)}
    for name in ("image2", "video", "semantic", "depth", "flow", "flow_valid"):
        value = getattr(scene, name)
        if value is not None:
            flat[name] = value
    if scene.frame_objects is not None:
        flat["frame_objects"] = [_objects_dict(o) for o in scene.frame_objects]
    return flat


def _objects_dict(objs: Objects) -> dict:
    d = {"labels": objs.labels, "boxes": objs.boxes}
    for name in ("masks", "keypoints", "visibility", "ids", "depth", "scores"):
        value = getattr(objs, name)
        if value is not None:
            d[name] = value
    return d


def _clamp_boxes(boxes: tv_tensors.BoundingBoxes) -> tv_tensors.BoundingBoxes:
    h, w = boxes.canvas_size
    b = boxes.as_subclass(Tensor).clone()
    b[:, 0::2] = b[:, 0::2].clamp(0, w)
    b[:, 1::2] = b[:, 1::2].clamp(0, h)
    return tv_tensors.wrap(b, like=boxes)


def _clean_flow(flow: Flow, valid: tv_tensors.Mask, covered: Tensor) -> tuple[Flow, tv_tensors.Mask]:
    h, w = flow.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    tx, ty = xs + flow[0], ys + flow[1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    ok = valid.as_subclass(Tensor).bool() & covered & inside
    return Flow(flow.as_subclass(Tensor)), tv_tensors.Mask(ok)


def _orientation_probe(h: int, w: int) -> tv_tensors.KeyPoints:
    cx, cy = w / 2.0, h / 2.0
    pts = torch.tensor([[cx, cy], [cx + 1.0, cy], [cx, cy + 1.0]], dtype=torch.float64)
    return tv_tensors.KeyPoints(pts, canvas_size=(h, w))


def _is_mirrored(probe: Tensor) -> bool:
    """True when the map that moved the probe has a negative determinant."""
    p = probe.as_subclass(Tensor)
    a, b = p[1] - p[0], p[2] - p[0]
    return bool(a[0] * b[1] - a[1] * b[0] < 0)


def _swap_pairs(kp: tv_tensors.KeyPoints, vis: Tensor,
                pairs: Sequence[tuple[int, int]]) -> tuple[tv_tensors.KeyPoints, Tensor]:
    order = list(range(kp.shape[1]))
    for i, j in pairs:
        order[i], order[j] = j, i
    plain = kp.as_subclass(Tensor)[:, order]
    return tv_tensors.wrap(plain, like=kp), vis[:, order]
