"""The FlowNetC correlation layer (a cost volume over a square of displacements)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def correlation(f1: Tensor, f2: Tensor, *, max_displacement: int, stride: int = 1,
                cosine: bool = False) -> Tensor:
    """Correlate each pixel of ``f1`` with the pixels of ``f2`` around it (kernel size 1).

    For every displacement (dy, dx) in ``range(-d, d + 1, stride)`` squared,
    ``out[b, k, y, x] = mean_c f1[b, c, y, x] * f2[b, c, y + dy, x + dx]`` with
    ``f2`` zero outside the image. Channel k enumerates dy-major (row of the
    displacement grid first), as in FlowNetC.

    Args:
        f1, f2: Tensor[B, C, H, W] feature maps of the two frames.
        max_displacement: d, in feature pixels.
        stride: step between displacements (FlowNetC's ``stride2``); must divide d.
        cosine: correlate unit-length features instead (cosine similarity in [-1, 1], 0 off
            the image): with untrained features the plain product's scale is arbitrary,
            the cosine's peak already marks the match.

    Returns:
        Tensor[B, D * D, H, W] with D = 2 * d / stride + 1.
    """
    if f1.shape != f2.shape or f1.ndim != 4:
        raise ValueError(f"f1 and f2 must be equal [B, C, H, W], got {list(f1.shape)} and "
                         f"{list(f2.shape)}")
    d = int(max_displacement)
    if d < 0 or stride < 1 or d % stride:
        raise ValueError(f"max_displacement={d} must be >= 0 and divisible by stride={stride}")
    if cosine:
        f1, f2 = F.normalize(f1, dim=1), F.normalize(f2, dim=1)
    h, w = f1.shape[-2:]
    f2p = F.pad(f2, (d, d, d, d))  # (B, C, H + 2d, W + 2d)
    out = []
    for dy in range(-d, d + 1, stride):
        for dx in range(-d, d + 1, stride):
            shifted = f2p[:, :, d + dy : d + dy + h, d + dx : d + dx + w]
            out.append((f1 * shifted).sum(dim=1))
    corr = torch.stack(out, dim=1)  # (B, D * D, H, W)
    return corr if cosine else corr / f1.shape[1]
