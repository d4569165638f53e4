"""U-Net (Ronneberger et al. 2015) with selectable upsampling and switchable long skips.

Upsampling modes (``UpMode``):
- ``"nearest"``: nearest-neighbour unpooling (every value copied into a 2×2 block),
  then a 1×1 convolution to the skip's channel count;
- ``"maxunpool"``: SegNet (Badrinarayanan et al. 2017): a 1×1 convolution to the
  skip's channel count, then ``nn.MaxUnpool2d`` with the encoder's pooling indices
  (each value is put back exactly where its maximum came from, zeros elsewhere);
- ``"transposed"``: DeconvNet (Noh et al. 2015): a learned 2×2 stride-2 transposed
  convolution.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

UpMode = Literal["nearest", "maxunpool", "transposed"]
UP_MODES: tuple[str, ...] = ("nearest", "maxunpool", "transposed")


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 conv + BN + ReLU layers (the U-Net "double conv")."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Up(nn.Module):
    """Doubles H and W and maps ``in_channels`` to ``out_channels`` by one of the three modes."""

    def __init__(self, *, in_channels: int, out_channels: int, mode: UpMode) -> None:
        super().__init__()
        if mode not in UP_MODES:
            raise ValueError(f"mode must be one of {UP_MODES}, got {mode!r}")
        self.mode = mode
        if mode == "transposed":
            self.proj = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.proj = nn.Conv2d(in_channels, out_channels, 1)
        self.unpool = nn.MaxUnpool2d(2) if mode == "maxunpool" else None

    def forward(self, x: Tensor, indices: Tensor | None, size: torch.Size) -> Tensor:
        """x: Tensor[B, C_in, h, w]; indices from ``MaxPool2d(return_indices=True)`` (maxunpool
        only); size: the (H, W) to produce (2h, 2w, or one more when the encoder input was odd)."""
        if self.mode == "transposed":
            y = self.proj(x)
        elif self.mode == "nearest":
            y = self.proj(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        else:
            if indices is None:
                raise ValueError("maxunpool upsampling needs the pooling indices")
            y = self.unpool(self.proj(x), indices, output_size=size)
        if y.shape[-2:] != size:  # odd encoder sizes: pad the bottom/right
            y = F.pad(y, (0, size[-1] - y.shape[-1], 0, size[-2] - y.shape[-2]))
        return y


class UNet(nn.Module):
    """Encoder–decoder with long skip connections, each switchable.

    Args:
        in_channels: image channels (3).
        num_classes: output classes C.
        widths: channels of each encoder level, shallow to deep; ``len(widths) - 1``
            poolings, so H and W are divided by ``2 ** (len(widths) - 1)`` at the bottom.
        up_mode: "nearest", "maxunpool" or "transposed" (see module docstring).
        skips: one flag per decoder level, shallow to deep (``len(widths) - 1`` flags);
            False drops that long skip (the decoder sees only the upsampled path).
        edge_head: also predict a boundary map (one logit per pixel).
    """

    def __init__(self, *, in_channels: int, num_classes: int, widths: tuple[int, ...],
                 up_mode: UpMode, skips: tuple[bool, ...], edge_head: bool = False) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"widths needs at least 2 levels, got {widths}")
        if len(skips) != len(widths) - 1:
            raise ValueError(f"skips needs {len(widths) - 1} flags (one per decoder level), "
                             f"got {len(skips)}")
        self.skips = tuple(bool(s) for s in skips)
        self.up_mode = up_mode
        self.encoders = nn.ModuleList()
        prev = in_channels
        for w in widths:
            self.encoders.append(conv_block(prev, w))
            prev = w
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(len(widths) - 2, -1, -1):  # deep to shallow
            w = widths[level]
            self.ups.append(Up(in_channels=widths[level + 1], out_channels=w, mode=up_mode))
            self.decoders.append(conv_block(2 * w if self.skips[level] else w, w))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        self.edge = nn.Conv2d(widths[0], 1, 1) if edge_head else None

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """images: Tensor[B, 3, H, W] normalised floats. Returns ``logits`` Tensor[B, C, H, W]
        and, with the edge head, ``edge_logits`` Tensor[B, 1, H, W]."""
        feats: list[Tensor] = []
        indices: list[Tensor] = []
        x = images
        for i, enc in enumerate(self.encoders):
            x = enc(x)
            if i < len(self.encoders) - 1:
                feats.append(x)
                x, idx = self.pool(x)
                indices.append(idx)
        for j, (up, dec) in enumerate(zip(self.ups, self.decoders, strict=True)):
            level = len(feats) - 1 - j
            skip = feats[level]
            x = up(x, indices[level], skip.shape[-2:])
            x = dec(torch.cat([x, skip], dim=1) if self.skips[level] else x)
        out = {"logits": self.classifier(x)}
        if self.edge is not None:
            out["edge_logits"] = self.edge(x)
        return out
