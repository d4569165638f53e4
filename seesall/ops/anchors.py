"""Anchors on every feature level: ``len(scales) * len(ratios)`` boxes per location.

At a level of stride s the anchor sizes are ``base * s * scale`` for each scale
(RetinaNet: base 4, scales 2^0, 2^(1/3), 2^(2/3)), and each size is spread over
the aspect ratios r = h / w keeping the area. Anchor centres sit at the centres
of the feature-map cells, ((j + 0.5) s, (i + 0.5) s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_SCALES = (1.0, 2 ** (1 / 3), 2 ** (2 / 3))
DEFAULT_RATIOS = (0.5, 1.0, 2.0)


def cell_anchors(size: float, scales: Sequence[float], ratios: Sequence[float]) -> Tensor:
    """Anchors centred at the origin: Tensor[len(scales) * len(ratios), 4] xyxy.

    Order: ratio-major, scale-minor (anchor a = ratio_index * len(scales) + scale_index).
    """
    out = []
    for r in ratios:
        for s in scales:
            area = (size * s) ** 2
            w = math.sqrt(area / r)
            h = w * r
            out.append([-w / 2, -h / 2, w / 2, h / 2])
    return torch.tensor(out, dtype=torch.float32)


class AnchorGenerator:
    """Anchors for a list of feature levels.

    Args:
        strides: stride of every level, e.g. (8, 16, 32, 64, 128) for P3-P7.
        base_size: anchor size at scale 1 in units of the stride (4: 32 px at stride 8).
        scales: multipliers of the size (3 by default).
        ratios: aspect ratios h / w (3 by default).
    """

    def __init__(self, *, strides: Sequence[int], base_size: float = 4.0,
                 scales: Sequence[float] = DEFAULT_SCALES,
                 ratios: Sequence[float] = DEFAULT_RATIOS) -> None:
        if not strides:
            raise ValueError("AnchorGenerator needs at least one stride")
        if not scales or not ratios or min(scales) <= 0 or min(ratios) <= 0:
            raise ValueError(f"scales and ratios must be positive, got {scales}, {ratios}")
        self.strides = [int(s) for s in strides]
        self.cells = [cell_anchors(base_size * s, scales, ratios) for s in self.strides]

    @property
    def num_anchors_per_location(self) -> int:
        return int(self.cells[0].shape[0])

    def __call__(self, sizes: Sequence[tuple[int, int]],
                 device: torch.device | str = "cpu") -> list[Tensor]:
        """Anchors of every level.

        Args:
            sizes: (H_l, W_l) of each level's feature map.

        Returns:
            One Tensor[H_l * W_l * A, 4] xyxy per level, ordered (row, column, anchor),
            matching a head output permuted to (B, H, W, A, ...).
        """
        if len(sizes) != len(self.strides):
            raise ValueError(f"{len(sizes)} feature maps for {len(self.strides)} anchor strides")
        out = []
        for (h, w), stride, cell in zip(sizes, self.strides, self.cells, strict=True):
            ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * stride
            xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * stride
            cy, cx = torch.meshgrid(ys, xs, indexing="ij")
            centres = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 1, 4)  # (HW, 1, 4)
            out.append((centres + cell.to(device)[None]).reshape(-1, 4))  # (HW * A, 4)
        return out
