"""Objects: the per-instance labels of one image, fields of equal length.

Modelled on detectron2's ``Instances``: every field is a tensor whose first
dimension is the number of objects N, and boolean / integer indexing selects
objects from all fields at once. Boxes, masks and keypoints are torchvision
``tv_tensors`` so that ``transforms.v2`` moves them with the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor
from torchvision import tv_tensors

# COCO keypoint visibility flags.
KP_UNLABELLED, KP_OCCLUDED, KP_VISIBLE = 0, 1, 2

SMALL = 1024
"""CPU tensors of at most this many values are checked on Python numbers: each torch op
costs microseconds of dispatch, more than reading a few values."""


@dataclass
class Objects:
    """The objects of one image.

    Attributes:
        labels: Tensor[N] int64, class index (0-based into the world's / dataset's classes).
        boxes: BoundingBoxes[N, 4] float32, XYXY in absolute pixels.
        masks: Mask[N, H, W] bool, or None. The visible (modal) mask of each object.
        keypoints: KeyPoints[N, K, 2] float32 (x, y) in pixels, or None.
        visibility: Tensor[N, K] uint8 with COCO flags 0 (unlabelled), 1 (occluded),
            2 (visible), or None; present exactly when ``keypoints`` is.
        ids: Tensor[N] int64 instance ids, unique within a scene and stable across
            the frames of a clip (track ids).
        depth: Tensor[N] float32 layer depth (larger is farther), or None.
        scores: Tensor[N] float32 confidences for predictions, or None for ground truth.
    """

    labels: Tensor
    boxes: tv_tensors.BoundingBoxes
    masks: tv_tensors.Mask | None = None
    keypoints: tv_tensors.KeyPoints | None = None
    visibility: Tensor | None = None
    ids: Tensor | None = None
    depth: Tensor | None = None
    scores: Tensor | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(H, W) of the image these objects live in."""
        return tuple(self.boxes.canvas_size)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int | slice | Tensor) -> Objects:
        """Select objects from every field: ``objs[objs.labels == 3]``."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        kwargs = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kwargs[f.name] = None if value is None else _index(value, index)
        return Objects(**kwargs)

    def to(self, device: torch.device | str) -> Objects:
        kwargs = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kwargs[f.name] = None if value is None else value.to(device)
        return Objects(**kwargs)

    def replace(self, **changes: object) -> Objects:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    @staticmethod
    def empty(canvas_size: tuple[int, int], num_keypoints: int = 0) -> Objects:
        """No objects, on an image of ``canvas_size`` (H, W)."""
        kwargs: dict = {}
        if num_keypoints:
            kwargs["keypoints"] = tv_tensors.KeyPoints(
                torch.zeros(0, num_keypoints, 2), canvas_size=canvas_size
            )
            kwargs["visibility"] = torch.zeros(0, num_keypoints, dtype=torch.uint8)
        return Objects(
            labels=torch.zeros(0, dtype=torch.int64),
            boxes=tv_tensors.BoundingBoxes(
                torch.zeros(0, 4), format="XYXY", canvas_size=canvas_size
            ),
            ids=torch.zeros(0, dtype=torch.int64),
            **kwargs,
        )

    @staticmethod
    def cat(parts: list[Objects]) -> Objects:
        """Concatenate objects of the same image."""
        if not parts:
            raise ValueError("Objects.cat needs at least one Objects")
        kwargs = {}
        for f in fields(Objects):
            values = [getattr(p, f.name) for p in parts]
            if all(v is None for v in values):
                kwargs[f.name] = None
            elif any(v is None for v in values):
                raise ValueError(f"Objects.cat: field '{f.name}' is set in some parts only")
            else:
                kwargs[f.name] = _wrap_like(values[0], torch.cat([v.as_subclass(Tensor)
                                                               for v in values]))
        return Objects(**kwargs)

    def _validate_boxes(self, n: int) -> None:
        boxes = self.boxes
        if not isinstance(boxes, tv_tensors.BoundingBoxes):
            raise TypeError(f"boxes must be tv_tensors.BoundingBoxes, got {type(boxes)}")
        if boxes.format != tv_tensors.BoundingBoxFormat.XYXY:
            raise ValueError(f"boxes must be in XYXY format, got {boxes.format}")
        if boxes.shape != (n, 4):
            raise ValueError(f"boxes must have shape [{n}, 4], got {list(boxes.shape)}")
        if not boxes.is_floating_point():
            raise ValueError(f"boxes must be floating point, got {boxes.dtype}")
        if n:
            _check_box_values(boxes.as_subclass(Tensor), self.canvas_size)

    def validate(self) -> None:
        """Raise ValueError naming the field when the objects are inconsistent."""
        n = _check_vector(self.labels, "labels", torch.int64)
        self._validate_boxes(n)
        h, w = self.canvas_size
        if self.masks is not None:
            if not isinstance(self.masks, tv_tensors.Mask):
                raise TypeError(f"masks must be tv_tensors.Mask, got {type(self.masks)}")
            if tuple(self.masks.shape) != (n, h, w):
                raise ValueError(f"masks must have shape [{n}, {h}, {w}], got {list(self.masks.shape)}")
        if (self.keypoints is None) != (self.visibility is None):
            raise ValueError("keypoints and visibility must be given together")
        if self.keypoints is not None:
            kp = self.keypoints
            if kp.ndim != 3 or kp.shape[0] != n or kp.shape[2] != 2:
                raise ValueError(f"keypoints must have shape [{n}, K, 2], got {list(kp.shape)}")
            if self.visibility.shape != kp.shape[:2] or self.visibility.dtype != torch.uint8:
                raise ValueError(
                    f"visibility must be uint8 of shape {list(kp.shape[:2])}, "
                    f"got {self.visibility.dtype} {list(self.visibility.shape)}"
                )
            if n and _max(self.visibility) > KP_VISIBLE:
                raise ValueError("visibility flags must be 0, 1 or 2")
        if self.ids is not None:
            _check_vector(self.ids, "ids", torch.int64, n)
            if not _unique(self.ids):
                raise ValueError("ids must be unique within one image")
        if self.depth is not None:
            _check_vector(self.depth, "depth", None, n)
        if self.scores is not None:
            _check_vector(self.scores, "scores", None, n)


def _check_box_values(boxes: Tensor, canvas_size: tuple[int, int]) -> None:
    """Tensor[N, 4] XYXY: finite, ordered corners, inside the (H, W) canvas (1e-3 px slack)."""
    h, w = canvas_size
    if _is_small(boxes) and all(-1e-3 <= x1 <= x2 <= w + 1e-3 and -1e-3 <= y1 <= y2 <= h + 1e-3
                                for x1, y1, x2, y2 in boxes.tolist()):
        return  # every check below passes (NaN and inf fail these comparisons)
    if not torch.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or inf")
    x1, y1, x2, y2 = boxes.unbind(1)
    if ((x2 < x1) | (y2 < y1)).any():
        raise ValueError("boxes must satisfy x1 <= x2 and y1 <= y2")
    if ((x1 < -1e-3) | (y1 < -1e-3) | (x2 > w + 1e-3) | (y2 > h + 1e-3)).any():
        raise ValueError(f"boxes must lie inside the image of size (H={h}, W={w})")


def _is_small(t: Tensor) -> bool:
    return t.numel() <= SMALL and t.device.type == "cpu"


def _max(t: Tensor) -> float:
    """Largest value of a non-empty tensor."""
    return max(t.flatten().tolist(), default=0) if _is_small(t) else t.max().item()


def _unique(ids: Tensor) -> bool:
    """Whether the values of a 1-D tensor are pairwise different."""
    if _is_small(ids):
        values = ids.tolist()
        return len(set(values)) == len(values)
    ordered = ids.sort().values
    return not bool((ordered[1:] == ordered[:-1]).any())


def _check_vector(t: Tensor, name: str, dtype: torch.dtype | None, n: int | None = None) -> int:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a Tensor, got {type(t)}")
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {list(t.shape)}")
    if dtype is not None and t.dtype != dtype:
        raise ValueError(f"{name} must be {dtype}, got {t.dtype}")
    if dtype is None and not t.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {t.dtype}")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} has {t.shape[0]} entries but there are {n} objects")
    return int(t.shape[0])


def _wrap_like(like: Tensor, data: Tensor) -> Tensor:
    """Re-wrap plain ``data`` as the tv_tensor type of ``like`` (keeping its metadata)."""
    if isinstance(like, tv_tensors.TVTensor):
        return tv_tensors.wrap(data, like=like)
    return data


def _index(value: Tensor, index: int | slice | Tensor) -> Tensor:
    if isinstance(index, Tensor) and index.dtype == torch.bool and index.shape[0] != value.shape[0]:
        raise ValueError(f"boolean index of length {index.shape[0]} for {value.shape[0]} objects")
    return _wrap_like(value, value.as_subclass(Tensor)[index])
