"""Colours: one fixed palette for classes and instances, and semantic maps with a legend."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from seesall.structures import IGNORE_INDEX


def palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct RGB colours: the PASCAL VOC bit-interleaving palette without black."""
    out = []
    for i in range(1, n + 1):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out


def colorize_semantic(semantic: Tensor, num_classes: int, ignore_color: tuple[int, int, int] = (0, 0, 0)) -> Tensor:
    """Tensor[H, W] int class map -> Tensor[3, H, W] uint8 RGB; ``IGNORE_INDEX`` is drawn in ``ignore_color``."""
    lut = torch.tensor(palette(num_classes) + [ignore_color], dtype=torch.uint8)  # (C + 1, 3)
    sem = semantic.as_subclass(Tensor).long()
    idx = torch.where((sem >= 0) & (sem < num_classes), sem, num_classes)
    if ((sem != IGNORE_INDEX) & (idx == num_classes)).any():
        raise ValueError(f"semantic map has values outside [0, {num_classes}) other than {IGNORE_INDEX}")
    return lut[idx].permute(2, 0, 1).contiguous()


def legend(names: Sequence[str], colors: Sequence[tuple[int, int, int]], height: int) -> Tensor:
    """A column of colour swatches with class names: Tensor[3, height, W] uint8."""
    row = 14
    img = Image.new("RGB", (120, max(height, row * len(names) + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for i, (name, color) in enumerate(zip(names, colors)):
        y = 2 + i * row
        draw.rectangle([4, y, 14, y + 10], fill=tuple(color))
        draw.text((18, y - 1), name, fill=(0, 0, 0))
    arr = np.asarray(img)[:height] if img.height > height else np.asarray(img)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)
