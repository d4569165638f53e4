"""Classification losses for dense detectors: focal loss, plain cross-entropy, OHEM.

All take per-anchor logits and one-hot targets and return per-element losses;
the detector losses sum them and divide by the number of positives.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.ops.matching import ohem_sample

ClsLoss = Literal["focal", "ce", "ohem"]


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, *, alpha: float = 0.25,
                       gamma: float = 2.0) -> Tensor:
    """Focal loss FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), element-wise (no reduction).

    Args:
        logits: Tensor[...] raw scores.
        targets: Tensor[...] in {0, 1} (float), same shape.
        alpha: weight of the positives (1 - alpha for negatives); < 0 disables it.
        gamma: focusing exponent; 0 gives (alpha-balanced) cross-entropy.
    """
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # -log(p_t)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def dense_classification_loss(logits: Tensor, targets: Tensor, valid: Tensor, *,
                              kind: ClsLoss, alpha: float = 0.25, gamma: float = 2.0,
                              neg_pos_ratio: float = 3.0) -> Tensor:
    """Summed classification loss over anchors (divide by the number of positives yourself).

    Args:
        logits: Tensor[N, K] per-anchor class logits (sigmoid, one per class).
        targets: Tensor[N, K] one-hot float (all zero for background anchors).
        valid: Tensor[N] bool, anchors that are not ignored.
        kind: "focal" (all anchors, down-weighting easy ones), "ce" (plain binary
            cross-entropy on all anchors) or "ohem" (cross-entropy on the positives and
            the hardest negatives at ``neg_pos_ratio`` negatives per positive).
    """
    logits, targets = logits[valid], targets[valid]
    if kind == "focal":
        return sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma).sum()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # (N', K)
    if kind == "ce":
        return ce.sum()
    if kind == "ohem":
        per_anchor = ce.sum(dim=1)  # (N',)
        labels = (targets.sum(dim=1) > 0).long()
        pos, neg = ohem_sample(labels, per_anchor, neg_pos_ratio=neg_pos_ratio)
        return per_anchor[pos | neg].sum()
    raise ValueError(f"classification loss must be focal, ce or ohem, got {kind!r}")
