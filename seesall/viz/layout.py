"""Putting pictures together: grids with titles, clip strips, and saving PNGs atomically."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from seesall.io.atomic import write_bytes


def titled(image: Tensor, title: str, bar: int = 12) -> Tensor:
    """Tensor[3, H, W] uint8 with a white title bar on top: Tensor[3, H + bar, W]."""
    _, h, w = image.shape
    canvas = Image.new("RGB", (w, h + bar), (255, 255, 255))
    canvas.paste(Image.fromarray(image.permute(1, 2, 0).numpy()), (0, bar))
    ImageDraw.Draw(canvas).text((2, 0), title, fill=(0, 0, 0))
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)


def grid(images: Sequence[Tensor], ncols: int, pad: int = 2, fill: int = 255) -> Tensor:
    """Tile Tensor[3, H_i, W_i] uint8 images row by row: Tensor[3, H, W] uint8."""
    if not images:
        raise ValueError("grid needs at least one image")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    ch = max(int(im.shape[1]) for im in images)
    cw = max(int(im.shape[2]) for im in images)
    out = torch.full((3, nrows * (ch + pad) + pad, ncols * (cw + pad) + pad), fill, dtype=torch.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = pad + r * (ch + pad), pad + c * (cw + pad)
        out[:, y : y + im.shape[1], x : x + im.shape[2]] = im
    return out


def clip_strip(video: Tensor, titles: Sequence[str] | None = None) -> Tensor:
    """Frames Tensor[T, 3, H, W] uint8 side by side in one row (optionally titled)."""
    frames = [titled(f, titles[i]) if titles else f for i, f in enumerate(video)]
    return grid(frames, ncols=len(frames))


def save_png(image: Tensor, path: str | Path) -> Path:
    """Write Tensor[3, H, W] uint8 as PNG, atomically."""
    if image.ndim != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
        raise ValueError(f"save_png expects uint8 [3, H, W], got {image.dtype} {list(image.shape)}")
    buf = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).contiguous().numpy()).save(buf, format="PNG")
    write_bytes(path, buf.getvalue())
    return Path(path)
