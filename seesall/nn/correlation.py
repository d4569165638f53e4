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
        f1, f2 = _unit(f1), _unit(f2)
    out = _banded(f1, f2, d, stride)
    return out if cosine else out / f1.shape[1]


def _banded(f1: Tensor, f2: Tensor, d: int, stride: int, tile: int = 16) -> Tensor:
    """The sums over channels, row by row as matrix products.

    For each row offset dy, every strip of ``tile`` pixels of a row of ``f1`` is multiplied with
    the ``tile + 2 d`` pixels of ``f2``'s row y + dy around it (one batched matmul); the products
    of pixel x with x + dx lie on bands of that (tile, tile + 2 d) block, read as a strided view.
    The same sums as a loop over displacements, at matmul speed (2-3x faster on CPU).
    """
    b, c, h, w = f1.shape
    n = -(-w // tile)
    wp = n * tile
    a = F.pad(f1, (0, wp - w)).permute(0, 2, 3, 1).reshape(b, h, n, tile, c)
    f2p = F.pad(f2, (d, d + wp - w, d, d)).permute(0, 2, 3, 1)  # (B, H + 2d, Wp + 2d, C)
    n_dx = len(range(0, 2 * d + 1, stride))
    rows = []
    for dy in range(0, 2 * d + 1, stride):
        window = f2p[:, dy : dy + h].unfold(2, tile + 2 * d, tile)  # (B, H, n, C, tile + 2d)
        prod = torch.matmul(a, window)  # (B, H, n, tile, tile + 2d): pixel x against x - d .. x + d
        s = prod.stride()
        rows.append(prod.as_strided((b, h, n, tile, n_dx), (s[0], s[1], s[2], s[3] + s[4], s[4] * stride)))
    out = torch.stack(rows, 4).reshape(b, h, wp, -1)[:, :, :w]  # (B, H, W, Dy * Dx), dy-major
    return out.permute(0, 3, 1, 2).contiguous()


def _unit(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``F.normalize(x, dim=1)``: a channel sum and a reciprocal square root are several times
    faster on CPU than ``linalg.vector_norm`` over the strided channel dim."""
    return x * torch.rsqrt((x * x).sum(dim=1, keepdim=True).clamp_min(eps * eps))
