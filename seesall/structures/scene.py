"""Scene: everything known about one sample (an image, a frame pair or a clip).

One data model for every task: detection reads ``objects.boxes``, semantic
segmentation ``semantic``, flow ``image2`` + ``flow``, action recognition
``video`` + ``action``, tracking ``video`` + ``frame_objects``. Predictions use
the same type, with ``objects.scores`` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor
from torchvision import tv_tensors

from seesall.structures.flow import Flow
from seesall.structures.objects import Objects

IGNORE_INDEX = 255
"""Value of semantic-map pixels that carry no label (as in Cityscapes and VOC)."""


@dataclass
class Scene:
    """One sample and its labels. Only ``image`` and ``objects`` are required.

    Attributes:
        image: Image[3, H, W] uint8, the (first) frame.
        objects: the objects of ``image``.
        image2: Image[3, H, W] uint8, the second frame of a pair, or None.
        video: Video[T, 3, H, W] uint8, a clip whose first frame is ``image``, or None.
        frame_objects: one Objects per frame of ``video`` (ids are track ids), or None.
        semantic: Mask[H, W] int64 class per pixel (``IGNORE_INDEX`` = no label), or None.
        depth: Mask[H, W] float32 depth of the visible surface (larger is farther), or None.
        flow: Flow[2, H, W] float32 (u, v) displacement from ``image`` to ``image2``, or None.
        flow_valid: Mask[H, W] bool, True where ``flow`` is defined (visible in both frames).
        action: action class of the clip, or None.
        image_id: integer id (COCO ``image_id``).
        file_name: where the image came from, for messages and exports.
    """

    image: tv_tensors.Image
    objects: Objects
    image2: tv_tensors.Image | None = None
    video: tv_tensors.Video | None = None
    frame_objects: list[Objects] | None = None
    semantic: tv_tensors.Mask | None = None
    depth: tv_tensors.Mask | None = None
    flow: Flow | None = None
    flow_valid: tv_tensors.Mask | None = None
    action: int | None = None
    image_id: int = 0
    file_name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return int(self.image.shape[-2]), int(self.image.shape[-1])

    def replace(self, **changes: object) -> Scene:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    def select(self, keep: Tensor) -> Scene:
        """The same scene with only the objects where ``keep`` (Tensor[N] bool) is True."""
        return self.replace(objects=self.objects[keep])

    def validate(self) -> None:
        """Raise ValueError (naming the field and the file) when the scene is inconsistent."""
        try:
            self._validate()
        except (ValueError, TypeError) as e:
            where = f" (in {self.file_name})" if self.file_name else ""
            raise type(e)(f"invalid Scene{where}: {e}") from None

    def _validate(self) -> None:
        _check_image(self.image, "image")
        h, w = self.size
        if self.objects.canvas_size != (h, w):
            raise ValueError(f"objects live on a canvas of {self.objects.canvas_size}, image is {(h, w)}")
        if self.image2 is not None:
            _check_image(self.image2, "image2")
            if tuple(self.image2.shape) != tuple(self.image.shape):
                raise ValueError(f"image2 shape {list(self.image2.shape)} != image shape {list(self.image.shape)}")
        if self.video is not None:
            self._validate_video(h, w)
        _check_map(self.semantic, "semantic", (h, w), tv_tensors.Mask, integer=True)
        _check_map(self.depth, "depth", (h, w), tv_tensors.Mask, integer=False)
        _check_map(self.flow_valid, "flow_valid", (h, w), tv_tensors.Mask, integer=None)
        if self.flow is not None:
            if not isinstance(self.flow, Flow):
                raise TypeError(f"flow must be a seesall Flow, got {type(self.flow).__name__}")
            if tuple(self.flow.shape) != (2, h, w) or not self.flow.is_floating_point():
                raise ValueError(
                    f"flow must be float of shape [2, {h}, {w}], got {self.flow.dtype} {list(self.flow.shape)}"
                )
            if self.flow_valid is None:
                raise ValueError("flow needs flow_valid")
            flow = self.flow.as_subclass(Tensor)
            # A finite sum means every value is finite (NaN and inf propagate; an overflow
            # only sends us to the exact check): one cheap reduction in the common case.
            if not torch.isfinite(flow.sum()):
                finite = torch.isfinite(flow).all(0)  # (H, W)
                if not (finite | ~self.flow_valid.as_subclass(Tensor)).all():
                    raise ValueError("flow has NaN or inf at valid pixels")
        if self.action is not None and (not isinstance(self.action, int) or self.action < 0):
            raise ValueError(f"action must be a non-negative int, got {self.action!r}")

    def _validate_video(self, h: int, w: int) -> None:
        v = self.video
        if not isinstance(v, tv_tensors.Video):
            raise TypeError(f"video must be tv_tensors.Video, got {type(v).__name__}")
        if v.ndim != 4 or v.shape[1] != 3 or tuple(v.shape[2:]) != (h, w) or v.dtype != torch.uint8:
            raise ValueError(f"video must be uint8 [T, 3, {h}, {w}], got {v.dtype} {list(v.shape)}")
        if self.frame_objects is not None and len(self.frame_objects) != v.shape[0]:
            raise ValueError(f"frame_objects has {len(self.frame_objects)} entries for {v.shape[0]} frames")


def _check_image(img: Tensor, name: str) -> None:
    if not isinstance(img, tv_tensors.Image):
        raise TypeError(f"{name} must be tv_tensors.Image, got {type(img).__name__}")
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"{name} must have shape [3, H, W], got {list(img.shape)}")
    if img.dtype != torch.uint8:
        raise ValueError(f"{name} must be uint8, got {img.dtype}")


def _check_map(t: Tensor | None, name: str, hw: tuple[int, int], kind: type, integer: bool | None) -> None:
    if t is None:
        return
    if not isinstance(t, kind):
        raise TypeError(f"{name} must be tv_tensors.{kind.__name__}, got {type(t).__name__}")
    if tuple(t.shape) != hw:
        raise ValueError(f"{name} must have shape {list(hw)}, got {list(t.shape)}")
    if integer is True and t.is_floating_point():
        raise ValueError(f"{name} must be an integer map, got {t.dtype}")
    if integer is False and not t.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {t.dtype}")
    if integer is None and t.dtype != torch.bool:
        raise ValueError(f"{name} must be bool, got {t.dtype}")
