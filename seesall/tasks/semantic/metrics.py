"""Semantic-segmentation metrics over a dataset: confusion matrix, IoU, mIoU, pixel accuracy,
and boundary IoU (Cheng et al., CVPR 2021)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch import Tensor

from seesall.structures import IGNORE_INDEX


def confusion_matrix(pred: Tensor, gt: Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Tensor[C, C] int64 counts, rows = ground truth, columns = prediction; pixels whose
    ground truth is ``ignore_index`` are skipped. pred/gt: integer tensors of one shape."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {list(pred.shape)} != ground truth {list(gt.shape)}")
    gt, pred = gt.reshape(-1).long(), pred.reshape(-1).long()
    keep = gt != ignore_index
    gt, pred = gt[keep], pred[keep]
    if gt.numel() and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError(f"ground truth has labels outside [0, {num_classes}) "
                         f"(found {int(gt.min())}..{int(gt.max())})")
    if pred.numel() and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"prediction has labels outside [0, {num_classes}) "
                         f"(found {int(pred.min())}..{int(pred.max())})")
    return torch.bincount(gt * num_classes + pred,
                          minlength=num_classes ** 2).view(num_classes, num_classes)


def mask_boundary(mask: np.ndarray, dilation: int) -> np.ndarray:
    """Pixels of a binary mask within ``dilation`` pixels of its contour (Cheng et al. 2021):
    the mask minus its erosion by a 3×3 kernel applied ``dilation`` times; the image
    border counts as contour. mask: bool[H, W] -> bool[H, W]."""
    m = mask.astype(np.uint8)
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=dilation)[1:-1, 1:-1]
    return (m - eroded).astype(bool)


def boundary_dilation(height: int, width: int, ratio: float) -> int:
    """Boundary width d = round(ratio × image diagonal), at least 1 (0.02 in the paper)."""
    return max(1, int(round(ratio * math.hypot(height, width))))


class SemanticMetric:
    """Dataset-level metrics with ``reset / update / compute``.

    ``update(pred, gt)`` takes integer maps Tensor[H, W] or Tensor[B, H, W]. ``compute``
    returns ``mIoU`` (mean over classes that occur in the ground truth or the prediction),
    ``pixel_accuracy``, ``iou_per_class`` (NaN for classes never seen), and ``boundary_iou``
    (per class, intersection and union of the boundary regions summed over the dataset,
    then averaged like mIoU).
    """

    def __init__(self, num_classes: int, *, ignore_index: int = IGNORE_INDEX,
                 boundary_ratio: float = 0.02) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.boundary_ratio = boundary_ratio
        self.reset()

    def reset(self) -> None:
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        self.b_inter = np.zeros(self.num_classes, np.int64)
        self.b_union = np.zeros(self.num_classes, np.int64)

    def update(self, pred: Tensor, gt: Tensor) -> None:
        pred, gt = pred.detach().cpu(), gt.detach().cpu()
        self.confusion += confusion_matrix(pred, gt, self.num_classes, self.ignore_index)
        if gt.ndim == 2:
            pred, gt = pred[None], gt[None]
        for p, g in zip(pred.numpy(), gt.numpy(), strict=True):
            self._update_boundary(p, g)

    def _update_boundary(self, pred: np.ndarray, gt: np.ndarray) -> None:
        d = boundary_dilation(gt.shape[0], gt.shape[1], self.boundary_ratio)
        valid = gt != self.ignore_index
        for c in np.union1d(np.unique(gt[valid]), np.unique(pred[valid])):
            gb = mask_boundary(gt == c, d) & valid
            pb = mask_boundary((pred == c) & valid, d) & valid
            self.b_inter[c] += int((gb & pb).sum())
            self.b_union[c] += int((gb | pb).sum())

    def compute(self) -> dict[str, float | list[float]]:
        cm = self.confusion.double()
        tp = cm.diag()
        union = cm.sum(0) + cm.sum(1) - tp
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
        total = cm.sum()
        b_iou = np.where(self.b_union > 0, self.b_inter / np.maximum(self.b_union, 1), np.nan)
        return {
            "mIoU": _nanmean(iou.tolist()),
            "pixel_accuracy": float(tp.sum() / total) if total > 0 else float("nan"),
            "iou_per_class": [float(v) for v in iou.tolist()],
            "boundary_iou": _nanmean(b_iou.tolist()),
            "boundary_iou_per_class": [float(v) for v in b_iou.tolist()],
        }


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return float(sum(kept) / len(kept)) if kept else float("nan")
