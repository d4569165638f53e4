"""Photometric refinement of a dominant affine motion: robust Gauss-Newton image alignment.

Lucas & Kanade's forward-additive alignment (Baker & Matthews, "Lucas-Kanade 20 Years On",
2004) of frame 2 onto frame 1 under one affine motion, with iteratively re-weighted least
squares (Cauchy weights on the colour residual) so that independently moving objects do not
pull the fit; the learned form of the idea is Lv et al., "Taking a Deeper Look at the Inverse
Compositional Algorithm" (CVPR 2019). It turns a flow network's rough estimate of the
background's motion into a sub-pixel one wherever the background has any gradient, including
the smooth ramps where local matching has nothing to hold on to.

Affine motions ``theta`` Tensor[B, 3, 2] follow ``weighted_affine_fit``: the raw flow (pixels /
``div_flow``) at normalised coordinates (x, y) of a flow grid of size (h, w), ``linspace(-1,
1)`` over its cell centres, is ``[x, y, 1] @ theta``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def grid_coords(h: int, w: int, like: Tensor) -> Tensor:
    """Tensor[3, h * w]: rows x, y, 1 of the normalised coordinates of an (h, w) grid."""
    ys = torch.linspace(-1.0, 1.0, h, dtype=like.dtype, device=like.device).view(h, 1).expand(h, w)
    xs = torch.linspace(-1.0, 1.0, w, dtype=like.dtype, device=like.device).view(1, w).expand(h, w)
    return torch.stack([xs, ys, torch.ones_like(xs)]).reshape(3, h * w)


def affine_field(theta: Tensor, h: int, w: int) -> Tensor:
    """The raw flow Tensor[B, 2, h, w] of affine motions Tensor[B, 3, 2] on an (h, w) grid."""
    return (grid_coords(h, w, theta).T @ theta).transpose(1, 2).reshape(-1, 2, h, w)


def halve(images: Tensor) -> Tensor:
    """Means of 2x2 blocks (strided sums: several times faster on CPU than ``avg_pool2d``)."""
    h, w = images.shape[-2:]
    x = images[..., : h - h % 2, : w - w % 2]
    return (x[..., 0::2, 0::2] + x[..., 1::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 1::2]) / 4


def _smooth_half(images: Tensor) -> Tensor:
    """Half resolution, then a 3x3 box: frames band-limited for sub-pixel sampling."""
    x = F.pad(halve(images), (1, 1, 1, 1), mode="replicate")
    x = (x[..., :-2] + x[..., 1:-1] + x[..., 2:]) / 3
    return (x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]) / 3


@torch.no_grad()
def align_affine(image1: Tensor, image2: Tensor, theta: Tensor, *, grid: tuple[int, int],
                 div_flow: float, iterations: int = 8, stride: int = 4, sigma: float = 0.02,
                 damping: float = 1e-4) -> Tensor:
    """Refine affine motions so that frame 2 sampled along them matches frame 1.

    Frames are smoothed at half resolution; residuals are taken on a lattice of every
    ``stride``-th input pixel (even, >= 2). Each Gauss-Newton step solves the 6 x 6 normal
    equations with Cauchy weights ``1 / (1 + |r|^2 / sigma^2)`` on the colour residual r and
    zero weight where the sample falls outside frame 2, damped by ``damping`` times the mean
    of their diagonal. The estimate of lowest robust cost (mean over the samples inside frame 2)
    met is returned, so a step that makes matters worse is never kept.

    Args:
        image1, image2: Tensor[B, 3, H, W] normalised frames.
        theta: Tensor[B, 3, 2] initial affine motions (module docstring's convention).
        grid: (h, w) of the flow grid ``theta`` refers to, covering the frames.
        div_flow: the raw flow's unit in input pixels.
        iterations: Gauss-Newton steps.
        stride: lattice step in input pixels.
        sigma: scale of the Cauchy weights in the frames' units.

    Returns:
        Tensor[B, 3, 2], detached.
    """
    if image1.shape != image2.shape or image1.ndim != 4:
        raise ValueError(f"frames must be equal [B, C, H, W], got {list(image1.shape)} and {list(image2.shape)}")
    b, c, hh, ww = image1.shape
    if theta.shape != (b, 3, 2):
        raise ValueError(f"theta must be {[b, 3, 2]}, got {list(theta.shape)}")
    if stride < 2 or stride % 2:
        raise ValueError(f"stride must be even and >= 2, got {stride}")
    a, f2 = _smooth_half(image1), _smooth_half(image2)
    h2, w2 = f2.shape[-2:]
    pad = F.pad(f2, (1, 1, 1, 1), mode="replicate")
    # frame 2 with its central-difference gradients per input pixel (a half-res pixel is 2 input pixels)
    stack = torch.cat([f2, (pad[..., 1:-1, 2:] - pad[..., 1:-1, :-2]) / 4,
                       (pad[..., 2:, 1:-1] - pad[..., :-2, 1:-1]) / 4], 1)
    a = a[..., :: stride // 2, :: stride // 2]
    h, w = a.shape[-2:]
    # lattice points in input pixels (half-res pixel j has its centre at input 2 j + 0.5)
    px = torch.arange(w, dtype=a.dtype, device=a.device) * float(stride) + 0.5
    py = torch.arange(h, dtype=a.dtype, device=a.device) * float(stride) + 0.5
    gh, gw = grid
    nx = ((px - (ww / gw - 1) / 2) / (ww / gw)) * (2.0 / max(gw - 1, 1)) - 1.0  # grid-normalised
    ny = ((py - (hh / gh - 1) / 2) / (hh / gh)) * (2.0 / max(gh - 1, 1)) - 1.0
    nx, ny = nx.view(1, w).expand(h, w), ny.view(h, 1).expand(h, w)
    basis = torch.stack([nx, ny, torch.ones_like(nx)]).reshape(3, h * w)  # (3, hw)
    # the lattice in half-resolution pixel coordinates
    qx0, qy0 = ((px - 0.5) / 2).view(1, 1, w), ((py - 0.5) / 2).view(1, h, 1)
    theta = theta.detach().clone()
    best, best_cost = theta.clone(), torch.full((b,), float("inf"), dtype=a.dtype, device=a.device)
    for step in range(iterations + 1):
        uv = div_flow * (basis.T @ theta).transpose(1, 2).reshape(b, 2, h, w)  # input pixels
        qx, qy = qx0 + uv[:, 0] / 2, qy0 + uv[:, 1] / 2  # (B, h, w) half-resolution pixels
        g = torch.stack([qx * (2.0 / (w2 - 1)) - 1.0, qy * (2.0 / (h2 - 1)) - 1.0], dim=-1)
        s = F.grid_sample(stack, g, mode="bilinear", padding_mode="zeros", align_corners=True)
        r = s[:, :c] - a  # (B, C, h, w)
        inside = (qx >= 0) & (qx <= w2 - 1) & (qy >= 0) & (qy <= h2 - 1)
        r2 = (r * r).sum(1) / (sigma * sigma)  # (B, h, w)
        cost = (torch.log1p(r2) * inside).sum((1, 2)) / inside.sum((1, 2)).clamp_min(1)
        better = cost < best_cost
        best = torch.where(better.view(b, 1, 1), theta, best)
        best_cost = torch.where(better, cost, best_cost)
        if step == iterations:
            break
        weight = inside / (1.0 + r2)  # (B, h, w)
        gx, gy = s[:, c : 2 * c], s[:, 2 * c :]  # (B, C, h, w) per input pixel
        # J = div_flow [gx basis, gy basis] per colour: the 6 x 6 normal equations in 2 x 2
        # blocks of basis-weighted sums (B, 3, 3) of per-pixel channel sums
        wxx, wxy, wyy = ((weight[:, None] * p * q).sum(1).reshape(b, 1, h * w)
                         for p, q in ((gx, gx), (gx, gy), (gy, gy)))
        rx, ry = ((weight[:, None] * p * r).sum(1).reshape(b, h * w, 1) for p in (gx, gy))
        block = lambda wt: (basis * wt) @ basis.T  # noqa: E731  (B, 3, 3)
        hxy = block(wxy)
        hess = torch.cat([torch.cat([block(wxx), hxy], 2), torch.cat([hxy, block(wyy)], 2)], 1)
        grad = torch.cat([basis @ rx, basis @ ry], 1) / div_flow  # (B, 6, 1)
        lam = damping * hess.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
        hess = hess + lam.view(b, 1, 1) * torch.eye(6, dtype=a.dtype, device=a.device)
        delta = torch.linalg.solve(hess, grad).view(b, 2, 3).transpose(1, 2)  # (B, 3, 2)
        theta = theta - delta
    return best
