"""Assigning anchors/proposals to ground truth, and choosing which ones train.

* ``Matcher``: IoU matching with a low and a high threshold and, optionally,
  low-quality matches (each ground-truth box keeps its best anchors).
* ``balanced_sample``: a fixed number of samples per image with at most a
  fraction of positives (RPN: 256 at 1/2, Fast R-CNN: 512 at 1/4).
* ``ohem_sample``: online hard example mining, all positives plus the
  negatives with the largest loss, at a fixed negative:positive ratio.
"""

from __future__ import annotations

import torch
from torch import Tensor

BELOW_LOW = -1
"""Matched index of a negative (max IoU < low)."""
BETWEEN = -2
"""Matched index of an ignored anchor (low <= max IoU < high)."""


class Matcher:
    """IoU matcher.

    Args:
        high: an anchor whose best IoU is >= high is matched to that box.
        low: best IoU < low is a negative; in between is ignored. ``low == high``
            means nothing is ignored.
        allow_low_quality: also match every ground-truth box to the anchors with
            which it has its highest IoU (even below ``high``), so no box is left out.
    """

    def __init__(self, *, high: float, low: float, allow_low_quality: bool) -> None:
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"Matcher needs 0 <= low <= high <= 1, got low={low}, high={high}")
        self.high, self.low = float(high), float(low)
        self.allow_low_quality = allow_low_quality

    def __call__(self, iou: Tensor) -> Tensor:
        """Match.

        Args:
            iou: Tensor[G, N], IoU of G ground-truth boxes with N anchors.

        Returns:
            Tensor[N] int64: the matched ground-truth index, or BELOW_LOW (-1), or BETWEEN (-2).
        """
        if iou.ndim != 2:
            raise ValueError(f"Matcher expects an IoU matrix [G, N], got {list(iou.shape)}")
        n = iou.shape[1]
        if iou.shape[0] == 0:
            return torch.full((n,), BELOW_LOW, dtype=torch.int64, device=iou.device)
        best, matches = iou.max(dim=0)  # (N,)
        original = matches.clone()
        matches[best < self.high] = BETWEEN
        matches[best < self.low] = BELOW_LOW
        if self.allow_low_quality:
            best_per_gt = iou.max(dim=1, keepdim=True).values  # (G, 1)
            _, anchors = torch.nonzero((iou == best_per_gt) & (best_per_gt > 0), as_tuple=True)
            matches[anchors] = original[anchors]
        return matches


def _random_pick(mask: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
    """A bool mask with at most k of the True entries of ``mask`` kept, chosen at random."""
    idx = torch.nonzero(mask).flatten()
    out = torch.zeros_like(mask)
    if idx.numel():
        perm = torch.randperm(idx.numel(), generator=generator)[:k].to(idx.device)
        out[idx[perm]] = True
    return out


def balanced_sample(labels: Tensor, *, batch_size: int, positive_fraction: float,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Randomly choose at most ``batch_size`` samples, at most ``positive_fraction`` positive.

    Args:
        labels: Tensor[N] int64: > 0 (or == 1) positive, 0 negative, < 0 ignored.

    Returns:
        (positive, negative): Tensor[N] bool masks.
    """
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction}")
    positive = labels > 0
    negative = labels == 0
    num_pos = min(int(batch_size * positive_fraction), int(positive.sum()))
    num_neg = min(batch_size - num_pos, int(negative.sum()))
    return _random_pick(positive, num_pos, generator), _random_pick(negative, num_neg, generator)


def ohem_sample(labels: Tensor, losses: Tensor, *, neg_pos_ratio: float = 3.0,
                min_negatives: int = 16) -> tuple[Tensor, Tensor]:
    """Online hard example mining: every positive and the hardest negatives.

    Args:
        labels: Tensor[N] int64: > 0 positive, 0 negative, < 0 ignored.
        losses: Tensor[N] per-sample loss (only its order matters; not differentiated).
        neg_pos_ratio: negatives kept per positive.
        min_negatives: negatives kept when there are few or no positives.

    Returns:
        (positive, negative): Tensor[N] bool masks.
    """
    if labels.shape != losses.shape:
        raise ValueError(f"labels {list(labels.shape)} and losses {list(losses.shape)} differ")
    positive = labels > 0
    negative = labels == 0
    k = max(int(neg_pos_ratio * int(positive.sum())), min_negatives)
    k = min(k, int(negative.sum()))
    neg_losses = torch.where(negative, losses.detach(), torch.full_like(losses, -float("inf")))
    hard = torch.zeros_like(negative)
    if k:
        hard[neg_losses.topk(k).indices] = True
    return positive, hard
