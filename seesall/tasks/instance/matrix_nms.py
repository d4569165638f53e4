"""Matrix NMS (Wang et al., "SOLOv2", NeurIPS 2020, sec. 3.3.2).

Masks sorted by decreasing score s_1 ≥ s_2 ≥ ...; for mask j the decay is

    decay_j = min_{i < j, same class} f(iou_ij) / f(iou_{·,i}),
    iou_{·,i} = max_{k < i, same class} iou_ki   (how much i was itself suppressed),

with f(iou) = exp(−σ iou²) (gaussian) or 1 − iou (linear); the new score is
s_j · decay_j (decay 1 when no higher-scoring mask of the class exists). All of it
is a few matrix operations on the upper-triangular IoU matrix.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Kernel = Literal["gaussian", "linear"]


def mask_iou_matrix(masks: Tensor) -> Tensor:
    """Pairwise IoU of binary masks: Tensor[N, H, W] -> Tensor[N, N] float."""
    flat = masks.reshape(masks.shape[0], -1).float()  # (N, HW)
    inter = flat @ flat.T
    area = flat.sum(1)
    union = area[:, None] + area[None, :] - inter
    return inter / union.clamp(min=1e-6)


def matrix_nms(masks: Tensor, labels: Tensor, scores: Tensor, *, kernel: Kernel = "gaussian",
               sigma: float = 2.0) -> Tensor:
    """Decayed scores, Tensor[N], in the order of the input.

    Args:
        masks: Tensor[N, H, W] bool (binarised masks).
        labels: Tensor[N] class of each mask (only masks of one class suppress each other).
        scores: Tensor[N] scores.
        kernel: "gaussian" (f = exp(−σ·iou²)) or "linear" (f = 1 − iou).
        sigma: the gaussian kernel's σ.
    """
    n = scores.shape[0]
    if n == 0:
        return scores.clone()
    if kernel not in ("gaussian", "linear"):
        raise ValueError(f"kernel must be 'gaussian' or 'linear', got {kernel!r}")
    order = torch.argsort(scores, descending=True, stable=True)
    iou = mask_iou_matrix(masks[order])
    same = labels[order][:, None] == labels[order][None, :]
    iou = (iou * same).triu(diagonal=1)  # iou[i, j]: i scores higher than j, same class
    compensate = iou.max(dim=0).values  # (N,): iou_{·,i} for each i
    if kernel == "gaussian":
        decay = torch.exp(-sigma * iou ** 2) / torch.exp(-sigma * compensate[:, None] ** 2)
    else:
        decay = (1.0 - iou) / (1.0 - compensate[:, None]).clamp(min=1e-6)
    decay = decay.min(dim=0).values.clamp(max=1.0)  # (N,): min over rows i
    out = torch.empty_like(scores)
    out[order] = scores[order] * decay
    return out
