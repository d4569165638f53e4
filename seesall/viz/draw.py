"""Overlays of objects on images, drawn with torchvision.utils."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks

from seesall.structures import KP_VISIBLE, Objects
from seesall.viz.palette import palette


def draw_objects(
    image: Tensor,
    objects: Objects,
    class_names: Sequence[str],
    *,
    skeleton: Sequence[tuple[int, int]] | None = None,
    score_threshold: float = 0.0,
    mask_alpha: float = 0.45,
    draw_occluded_keypoints: bool = False,
    scale: int = 1,
) -> Tensor:
    """Boxes with class names (and scores), instance masks and key points with skeleton.

    Args:
        image: Tensor[3, H, W] uint8.
        objects: ground truth or predictions (``objects.scores`` set) on that image.
        class_names: name of every label.
        skeleton: key-point index pairs to connect.
        scale: integer enlargement (nearest neighbour) before drawing, so that the
            captions of small images stay readable; above 1 the captions are set in
            DejaVu Sans at ``5 * scale`` points instead of PIL's small bitmap font.
    Returns:
        Tensor[3, scale * H, scale * W] uint8.
    """
    if objects.scores is not None:
        objects = objects[objects.scores >= score_threshold]
    img = image.as_subclass(Tensor).clone()
    if scale != 1:
        img, objects = _enlarge(img, objects, scale)
    if len(objects) == 0:
        return img
    colors = palette(max(len(class_names), 1))
    obj_colors = [colors[int(c) % len(colors)] for c in objects.labels]
    if objects.masks is not None:
        img = draw_segmentation_masks(img, objects.masks.as_subclass(Tensor).bool(), alpha=mask_alpha,
                                      colors=obj_colors)
    texts = [_caption(class_names, int(c), None if objects.scores is None else float(s))
             for c, s in zip(objects.labels, objects.scores if objects.scores is not None else objects.labels)]
    font = {} if scale == 1 else {"font": caption_font(), "font_size": 5 * scale}
    img = draw_bounding_boxes(img, objects.boxes.as_subclass(Tensor), labels=texts, colors=obj_colors,
                              width=1 if scale == 1 else 2, **font)
    if objects.keypoints is not None and objects.visibility is not None:
        vis = objects.visibility >= (1 if draw_occluded_keypoints else KP_VISIBLE)
        if vis.any():
            img = draw_keypoints(img, objects.keypoints.as_subclass(Tensor), visibility=vis,
                                 connectivity=list(skeleton) if skeleton else None,
                                 colors=(255, 255, 0), radius=1, width=1)
    return img


@functools.cache
def caption_font() -> str:
    """Path of the TrueType DejaVu Sans that matplotlib ships (scalable captions)."""
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))


def _enlarge(image: Tensor, objects: Objects, scale: int) -> tuple[Tensor, Objects]:
    """Nearest-neighbour ``scale`` x enlargement of an image and its objects' geometry."""
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    big = image.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    size = (int(big.shape[1]), int(big.shape[2]))
    masks = (None if objects.masks is None else tv_tensors.Mask(
        objects.masks.as_subclass(Tensor).repeat_interleave(scale, 1).repeat_interleave(scale, 2)))
    keypoints = (None if objects.keypoints is None else tv_tensors.KeyPoints(
        objects.keypoints.as_subclass(Tensor) * scale, canvas_size=size))
    boxes = tv_tensors.BoundingBoxes(objects.boxes.as_subclass(Tensor) * scale, format="XYXY",
                                     canvas_size=size)
    return big, objects.replace(boxes=boxes, masks=masks, keypoints=keypoints)


def _caption(names: Sequence[str], label: int, score: float | None) -> str:
    name = names[label] if 0 <= label < len(names) else str(label)
    return name if score is None else f"{name} {score:.2f}"


def draw_tracks(frames: Tensor, frame_objects: Sequence[Objects]) -> Tensor:
    """Boxes coloured by track id (``objects.ids``) on every frame: Tensor[T, 3, H, W] uint8."""
    colors = palette(64)
    out = []
    for frame, objs in zip(frames, frame_objects):
        img = frame.as_subclass(Tensor).clone()
        if len(objs):
            ids = objs.ids if objs.ids is not None else torch.arange(len(objs))
            img = draw_bounding_boxes(img, objs.boxes.as_subclass(Tensor), labels=[f"#{int(i)}" for i in ids],
                                      colors=[colors[int(i) % 64] for i in ids], width=1)
        out.append(img)
    return torch.stack(out)
