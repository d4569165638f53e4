"""Box operations: one format conversion, the delta box coder, and torchvision's ops.

Inside seesall boxes are float XYXY in absolute pixels (``boxes (Tensor[N, 4])
in (x1, y1, x2, y2) format``). Other codings exist only at IO boundaries
(``convert_boxes``) and inside heads that regress deltas (``BoxCoder``).
IoU, NMS and GIoU are torchvision's, re-exported here so every task imports
box ops from one place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor
from torchvision.ops import (
    batched_nms,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    generalized_box_iou_loss,
    nms,
    remove_small_boxes,
)

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]

__all__ = [
    "BoxCoder",
    "batched_nms",
    "box_area",
    "box_iou",
    "clip_boxes_to_image",
    "convert_boxes",
    "generalized_box_iou_loss",
    "nms",
    "remove_small_boxes",
]

DEFAULT_DELTA_CLAMP = math.log(1000.0 / 16)
"""Largest dw, dh before exp() in decoding (as in Detectron and torchvision)."""


def convert_boxes(boxes: Tensor, in_fmt: BoxFormat, out_fmt: BoxFormat) -> Tensor:
    """The one box-format conversion: boxes (Tensor[..., 4]) from ``in_fmt`` to ``out_fmt``.

    Formats: "xyxy" (x1, y1, x2, y2), "xywh" (x1, y1, w, h, COCO), "cxcywh" (centre, size).
    """
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"{name} must be xyxy, xywh or cxcywh, got {fmt!r}")
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape [..., 4], got {list(boxes.shape)}")
    shape = boxes.shape
    out = box_convert(boxes.reshape(-1, 4), in_fmt, out_fmt)  # (N, 4)
    return out.reshape(shape)


def box_area(boxes: Tensor) -> Tensor:
    """Area of boxes (Tensor[..., 4]) in xyxy format -> Tensor[...]."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


class BoxCoder:
    """Encodes boxes as normalised deltas (dx, dy, dw, dh) relative to reference boxes.

    With reference box (centre x_a, y_a, size w_a, h_a) and weights (w_x, w_y, w_w, w_h):
    dx = w_x (x - x_a) / w_a, dy = w_y (y - y_a) / h_a, dw = w_w log(w / w_a),
    dh = w_h log(h / h_a). Decoding clamps dw, dh at ``clamp`` before exp().

    Args:
        weights: (w_x, w_y, w_w, w_h); (1, 1, 1, 1) for RPN/RetinaNet, (10, 10, 5, 5) for
            the R-CNN box head.
        clamp: largest dw, dh (after dividing by the weights) before exp().
    """

    def __init__(self, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                 clamp: float = DEFAULT_DELTA_CLAMP) -> None:
        if len(weights) != 4:
            raise ValueError(f"BoxCoder weights must be 4 numbers, got {list(weights)}")
        self.weights = tuple(float(w) for w in weights)
        self.clamp = float(clamp)

    def encode(self, boxes: Tensor, reference: Tensor) -> Tensor:
        """Deltas that take ``reference`` to ``boxes``.

        Args:
            boxes: Tensor[N, 4] xyxy targets.
            reference: Tensor[N, 4] xyxy anchors / proposals.

        Returns:
            Tensor[N, 4] deltas (dx, dy, dw, dh).
        """
        if boxes.shape != reference.shape:
            raise ValueError(f"encode: boxes {list(boxes.shape)} and reference "
                             f"{list(reference.shape)} must have the same shape")
        wx, wy, ww, wh = self.weights
        ref = convert_boxes(reference.float(), "xyxy", "cxcywh")
        tgt = convert_boxes(boxes.float(), "xyxy", "cxcywh")
        dx = wx * (tgt[:, 0] - ref[:, 0]) / ref[:, 2]
        dy = wy * (tgt[:, 1] - ref[:, 1]) / ref[:, 3]
        dw = ww * torch.log(tgt[:, 2] / ref[:, 2])
        dh = wh * torch.log(tgt[:, 3] / ref[:, 3])
        return torch.stack([dx, dy, dw, dh], dim=1)

    def decode(self, deltas: Tensor, reference: Tensor) -> Tensor:
        """Boxes from deltas.

        Args:
            deltas: Tensor[N, 4 * K] (K boxes per reference, e.g. one per class).
            reference: Tensor[N, 4] xyxy.

        Returns:
            Tensor[N, 4 * K] xyxy boxes.
        """
        if deltas.shape[0] != reference.shape[0] or deltas.shape[-1] % 4:
            raise ValueError(f"decode: deltas {list(deltas.shape)} do not fit reference "
                             f"{list(reference.shape)}")
        wx, wy, ww, wh = self.weights
        ref = convert_boxes(reference.to(deltas.dtype), "xyxy", "cxcywh")[:, None]  # (N, 1, 4)
        d = deltas.reshape(deltas.shape[0], deltas.shape[-1] // 4, 4)  # (N, K, 4)
        cx = d[..., 0] / wx * ref[..., 2] + ref[..., 0]
        cy = d[..., 1] / wy * ref[..., 3] + ref[..., 1]
        w = torch.exp((d[..., 2] / ww).clamp(max=self.clamp)) * ref[..., 2]
        h = torch.exp((d[..., 3] / wh).clamp(max=self.clamp)) * ref[..., 3]
        out = torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)
        return out.reshape(deltas.shape)  # (N, 4 * K)
