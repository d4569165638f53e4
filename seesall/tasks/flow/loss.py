"""Multi-scale end-point-error loss for FlowNet's coarse-to-fine predictions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

FLOWNET_WEIGHTS = (0.32, 0.08, 0.02, 0.01, 0.005)
"""FlowNet's per-level weights, finest (stride 4) first."""


def downsample_flow(flow: Tensor, valid: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Average a flow over the valid pixels of each cell of a coarser grid (values unchanged).

    Args:
        flow: Tensor[B, 2, H, W]; valid: Tensor[B, H, W] bool; size: (h, w) dividing (H, W).

    Returns:
        (Tensor[B, 2, h, w], Tensor[B, h, w] bool): mean flow of the valid pixels of each
        cell, and whether the cell had any.
    """
    v = valid[:, None].to(flow.dtype)  # (B, 1, H, W)
    num = F.adaptive_avg_pool2d(flow * v, size)
    den = F.adaptive_avg_pool2d(v, size)
    return num / den.clamp_min(1e-6), den[:, 0] > 0


def multiscale_epe_loss(
    flows: Sequence[Tensor], target: Tensor, valid: Tensor, *, div_flow: float = 20.0,
    weights: Sequence[float] = FLOWNET_WEIGHTS,
) -> dict[str, Tensor]:
    """FlowNet's training loss: weighted EPE of every level against the down-sampled target.

    Args:
        flows: raw network outputs, coarse to fine, Tensor[B, 2, H_l, W_l] in pixels / div_flow.
        target: Tensor[B, 2, H, W] ground-truth flow in pixels.
        valid: Tensor[B, H, W] bool, pixels where the target counts.
        weights: one per level, finest first (extra levels get the last weight).

    Returns:
        {"loss_flow": weighted sum, "epe_s{stride}": the unweighted EPE of each level (detached);
        the finest of several levels at one stride owns the plain key, the others
        ``epe_s{stride}_level{i}`` with i counted from the finest}.
    """
    if target.ndim != 4 or target.shape[1] != 2 or valid.shape != (target.shape[0], *target.shape[2:]):
        raise ValueError(f"target must be [B, 2, H, W] with valid [B, H, W], got "
                         f"{list(target.shape)} and {list(valid.shape)}")
    out: dict[str, Tensor] = {}
    total = target.new_zeros(())
    scaled = target / div_flow
    for i, pred in enumerate(reversed(list(flows))):
        t, v = downsample_flow(scaled, valid, tuple(pred.shape[-2:]))
        epe = torch.linalg.vector_norm(pred - t, dim=1)  # (B, h, w)
        level = (epe * v).sum() / v.sum().clamp_min(1)
        total = total + weights[min(i, len(weights) - 1)] * level
        stride = target.shape[-1] // pred.shape[-1]
        key = f"epe_s{stride}" if f"epe_s{stride}" not in out else f"epe_s{stride}_level{i}"
        out[key] = level.detach() * div_flow  # a second level at one stride gets its index
    out["loss_flow"] = total
    return out
