"""Label propagation: carry masks from a labelled key frame to the next frames with optical flow.

Masks are pulled backwards: with the flow ``f`` from frame t to frame t - 1,
``mask_t(p) = mask_{t-1}(p + f(p))`` (bilinear sampling, then > 0.5). This
needs no splatting and leaves no holes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def warp_backward(x: Tensor, flow: Tensor) -> Tensor:
    """Sample Tensor[N, C, H, W] at p + flow(p), flow Tensor[2, H, W] (or [N, 2, H, W]) in pixels.

    Points outside the image read zeros.
    """
    n, _, h, w = x.shape
    if flow.ndim == 3:
        flow = flow[None].expand(n, -1, -1, -1)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0  # (N, H, W), align_corners=True
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def occlusion_mask(backward: Tensor, forward: Tensor, *, tolerance: float = 1.0) -> Tensor:
    """Forward-backward check: True where pixel p of frame t has no match in frame t - 1.

    ``backward`` Tensor[2, H, W] is the flow t -> t - 1, ``forward`` the flow t - 1 -> t;
    p is occluded (disoccluded in t) when |backward(p) + forward(p + backward(p))| > tolerance
    px (or p + backward(p) leaves the image).
    """
    h, w = backward.shape[-2:]
    fw_at = warp_backward(forward[None], backward)[0]  # forward flow read at p + backward(p)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    tx, ty = xs + backward[0], ys + backward[1]
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    return (torch.linalg.vector_norm(backward + fw_at, dim=0) > tolerance) | outside


def propagate_masks(masks: Tensor, video: Tensor, flow_fn: Callable[[Tensor, Tensor], Tensor], *,
                    consistency: float | None = 1.0) -> list[Tensor]:
    """Masks Tensor[N, H, W] bool of frame 0 -> one Tensor[N, H, W] bool per frame of ``video``.

    Args:
        video: uint8 Tensor[T, 3, H, W].
        flow_fn: (frame_a, frame_b) -> flow Tensor[2, H, W] from a to b.
        consistency: forward-backward tolerance in pixels; pixels failing it (uncovered in
            frame t, so belonging to none of the masks moving away) get no label. None skips
            the check (one flow per frame instead of two; disoccluded pixels then keep the
            label of what covered them).
    """
    out = [masks.bool()]
    for t in range(1, video.shape[0]):
        back = flow_fn(video[t], video[t - 1]).float()
        soft = warp_backward(out[-1].float()[:, None], back)[:, 0]  # (N, H, W)
        if consistency is not None:
            fwd = flow_fn(video[t - 1], video[t]).float()
            soft = soft * ~occlusion_mask(back, fwd, tolerance=consistency)
        out.append(soft > 0.5)
    return out


def mask_iou(a: Tensor, b: Tensor) -> Tensor:
    """Per-mask IoU of Tensor[N, H, W] bool pairs -> Tensor[N] (1 when both are empty)."""
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
