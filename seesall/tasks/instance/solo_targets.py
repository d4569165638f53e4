"""SOLO training targets: which grid cells are positive and which object each one owns.

For object n with box size (w, h) and mask centre of mass (cy, cx), on the padded
image of size (H, W):

* level l takes the object when sqrt(w·h) lies in its ``scale_range`` (ranges may
  overlap, so an object can be positive on two levels);
* the centre region is the box scaled by ε around the centre of mass, half sizes
  (ε·w/2, ε·h/2); its cells on the S×S grid are ⌊(cy ± ε·h/2)/H·S⌋ by ⌊(cx ± ε·w/2)/W·S⌋,
  further limited to the 3×3 cells around the centre cell ⌊cy/H·S⌋, ⌊cx/W·S⌋;
* those cells get class label(n) and mask target n (cell k = i·S + j is mask channel k
  in vanilla SOLO); objects later in the list overwrite earlier ones where they collide,
  as in the reference implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SOLOTargetConfig:
    """grids: S per level; scale_ranges: (low, high) of sqrt(box area) per level;
    sigma: ε, the centre-region scale."""

    grids: tuple[int, ...] = (24, 16, 8)
    scale_ranges: tuple[tuple[float, float], ...] = ((0.0, 48.0), (24.0, 96.0), (48.0, 1e5))
    sigma: float = 0.2


def mask_centers(masks: Tensor) -> Tensor:
    """Centre of mass (cy, cx) of each mask, in pixel-centre coordinates (+0.5):
    Tensor[N, H, W] bool -> Tensor[N, 2]."""
    n, h, w = masks.shape
    m = masks.float()
    area = m.sum(dim=(1, 2)).clamp(min=1.0)
    ys = torch.arange(h, dtype=torch.float32) + 0.5
    xs = torch.arange(w, dtype=torch.float32) + 0.5
    cy = (m.sum(dim=2) * ys).sum(dim=1) / area
    cx = (m.sum(dim=1) * xs).sum(dim=1) / area
    return torch.stack([cy, cx], dim=1)


def _cell(v: float, size: int, s: int) -> int:
    return min(max(int(v / size * s), 0), s - 1)


def solo_level_targets(masks: Tensor, boxes: Tensor, image_size: tuple[int, int],
                       cfg: SOLOTargetConfig) -> list[Tensor]:
    """For one image: per level, Tensor[S²] int64 with the index of the object owning
    each cell (k = i·S + j), or -1.

    Args:
        masks: Tensor[N, H, W] bool (on the padded image); boxes: Tensor[N, 4] XYXY.
        image_size: (H, W) of the padded image the grid covers.
    """
    if len(cfg.grids) != len(cfg.scale_ranges):
        raise ValueError(f"{len(cfg.grids)} grids but {len(cfg.scale_ranges)} scale ranges")
    h_img, w_img = image_size
    wh = (boxes[:, 2:] - boxes[:, :2]).float()
    scales = (wh[:, 0] * wh[:, 1]).sqrt()
    centers = mask_centers(masks)
    out = []
    for s, (lo, hi) in zip(cfg.grids, cfg.scale_ranges, strict=True):
        owner = torch.full((s * s,), -1, dtype=torch.int64)
        for n in range(masks.shape[0]):
            if not (lo <= float(scales[n]) <= hi) or not masks[n].any():
                continue
            cy, cx = float(centers[n, 0]), float(centers[n, 1])
            hh, hw = 0.5 * cfg.sigma * float(wh[n, 1]), 0.5 * cfg.sigma * float(wh[n, 0])
            ci, cj = _cell(cy, h_img, s), _cell(cx, w_img, s)
            top = max(_cell(cy - hh, h_img, s), ci - 1)
            bottom = min(_cell(cy + hh, h_img, s), ci + 1)
            left = max(_cell(cx - hw, w_img, s), cj - 1)
            right = min(_cell(cx + hw, w_img, s), cj + 1)
            for i in range(top, bottom + 1):
                owner[i * s + left:i * s + right + 1] = n
        out.append(owner)
    return out
