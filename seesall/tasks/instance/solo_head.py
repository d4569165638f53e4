"""SOLO (Wang et al., "SOLO: Segmenting Objects by Locations", ECCV 2020): head and model.

Each pyramid level l has an S_l × S_l grid. The category branch resizes the level's
features to S×S and predicts C class logits per cell. The mask branch sees the
features plus two normalised coordinate channels (CoordConv), is upsampled ×2, and
predicts, per cell (i, j), the mask of the object whose centre falls in that cell:

* ``"vanilla"`` SOLO: S² output channels, channel k = i·S + j;
* ``"decoupled"`` SOLO: S "X" channels and S "Y" channels; the mask of cell (i, j)
  is sigmoid(Y_i) · sigmoid(X_j) (2S channels instead of S²).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MaskMode = Literal["vanilla", "decoupled"]


def _conv_gn_relu(cin: int, cout: int) -> nn.Sequential:
    groups = 32 if cout % 32 == 0 else (8 if cout % 8 == 0 else 1)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.GroupNorm(groups, cout), nn.ReLU(inplace=True))


def coord_channels(x: Tensor) -> Tensor:
    """Tensor[B, 2, H, W]: x and y coordinates normalised to [-1, 1] (CoordConv)."""
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy]).expand(b, 2, h, w)


class SOLOHead(nn.Module):
    """Category and mask branches, shared across levels (the output layers of the mask
    branch are per level, since S differs).

    Args:
        in_channels: channels of every pyramid level.
        num_classes: C thing classes (sigmoid, no background channel).
        grids: S per level, shallow to deep.
        mask_mode: "vanilla" (S² channels) or "decoupled" (S + S channels).
        channels: width of the conv towers; num_convs: convs per tower.
        prior_prob: initial foreground probability of the category logits.
    """

    def __init__(self, *, in_channels: int, num_classes: int, grids: tuple[int, ...],
                 mask_mode: MaskMode = "decoupled", channels: int = 128, num_convs: int = 4,
                 prior_prob: float = 0.01) -> None:
        super().__init__()
        if mask_mode not in ("vanilla", "decoupled"):
            raise ValueError(f"mask_mode must be 'vanilla' or 'decoupled', got {mask_mode!r}")
        self.grids, self.mask_mode, self.num_classes = tuple(grids), mask_mode, num_classes
        self.cate_tower = nn.Sequential(*[_conv_gn_relu(in_channels if i == 0 else channels,
                                                        channels) for i in range(num_convs)])
        self.mask_tower = nn.Sequential(*[_conv_gn_relu(in_channels + 2 if i == 0 else channels,
                                                        channels) for i in range(num_convs)])
        self.cate_out = nn.Conv2d(channels, num_classes, 3, padding=1)
        nn.init.constant_(self.cate_out.bias, -math.log((1 - prior_prob) / prior_prob))
        if mask_mode == "vanilla":
            self.mask_out = nn.ModuleList([nn.Conv2d(channels, s * s, 1) for s in grids])
        else:
            self.mask_out_x = nn.ModuleList([nn.Conv2d(channels, s, 1) for s in grids])
            self.mask_out_y = nn.ModuleList([nn.Conv2d(channels, s, 1) for s in grids])

    def forward(self, features: list[Tensor]) -> dict[str, list[Tensor]]:
        """features: one Tensor[B, C_in, h_l, w_l] per level (len(grids) levels).

        Returns ``cate``: per level Tensor[B, C, S, S] logits, and ``mask`` (vanilla):
        per level Tensor[B, S², 2h_l, 2w_l] logits, or ``mask_x`` / ``mask_y`` (decoupled):
        per level Tensor[B, S, 2h_l, 2w_l] logits."""
        if len(features) != len(self.grids):
            raise ValueError(f"SOLOHead has {len(self.grids)} levels, got {len(features)} maps")
        out: dict[str, list[Tensor]] = {"cate": []}
        if self.mask_mode == "vanilla":
            out["mask"] = []
        else:
            out["mask_x"], out["mask_y"] = [], []
        for level, (x, s) in enumerate(zip(features, self.grids, strict=True)):
            cate_in = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
            out["cate"].append(self.cate_out(self.cate_tower(cate_in)))
            m = self.mask_tower(torch.cat([x, coord_channels(x)], dim=1))
            m = F.interpolate(m, scale_factor=2.0, mode="bilinear", align_corners=False)
            if self.mask_mode == "vanilla":
                out["mask"].append(self.mask_out[level](m))
            else:
                out["mask_x"].append(self.mask_out_x[level](m))
                out["mask_y"].append(self.mask_out_y[level](m))
        return out


def cell_masks(outputs: dict[str, list[Tensor]], level: int, batch_index: Tensor,
               cells: Tensor, grid: int) -> Tensor:
    """Mask probabilities of chosen cells: Tensor[P, h, w] in [0, 1].

    batch_index, cells: Tensor[P] (image in the batch, cell k = i·S + j)."""
    if "mask" in outputs:
        return outputs["mask"][level][batch_index, cells].sigmoid()
    i, j = cells // grid, cells % grid
    return (outputs["mask_y"][level][batch_index, i].sigmoid()
            * outputs["mask_x"][level][batch_index, j].sigmoid())


class SOLO(nn.Module):
    """Backbone + FPN + SOLO head. ``forward(images)`` -> the head's raw outputs.

    Args:
        backbone: the backbone contract (forward -> dict, feature_specs).
        neck: FPN on the backbone (forward(dict) -> dict, feature_specs).
        head: SOLOHead with one grid per neck level in ``levels``.
        levels: neck outputs fed to the head, shallow to deep (e.g. ("p3", "p4", "p5")).
        level_strides: the stride at which the head sees each level; a level whose neck
            stride differs is resized bilinearly first (the reference SOLO on P2–P6 sees
            P2 at stride 8 and P6 at stride 32: (8, 8, 16, 32, 32)). None: the neck's.
    """

    def __init__(self, *, backbone: nn.Module, neck: nn.Module, head: SOLOHead,
                 levels: tuple[str, ...], level_strides: tuple[int, ...] | None = None) -> None:
        super().__init__()
        names = [s.name for s in neck.feature_specs]
        missing = [n for n in levels if n not in names]
        if missing:
            raise ValueError(f"levels {missing} are not neck outputs {names}")
        if len(levels) != len(head.grids):
            raise ValueError(f"{len(levels)} levels but the head has {len(head.grids)} grids")
        neck_strides = {s.name: s.stride for s in neck.feature_specs}
        strides = tuple(neck_strides[n] for n in levels) if level_strides is None else \
            tuple(level_strides)
        if len(strides) != len(levels) or any(s < 1 for s in strides):
            raise ValueError(f"level_strides {level_strides} must give one positive stride "
                             f"per level of {list(levels)}")
        self.backbone, self.neck, self.head, self.levels = backbone, neck, head, tuple(levels)
        self.strides = strides

    def forward(self, images: Tensor) -> dict[str, list[Tensor]]:
        """images: Tensor[B, 3, H, W] normalised, H and W divisible by the largest stride."""
        feats = self.neck(self.backbone(images))
        h, w = images.shape[-2:]
        maps = []
        for name, stride in zip(self.levels, self.strides, strict=True):
            x = feats[name]
            size = (h // stride, w // stride)
            if tuple(x.shape[-2:]) != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            maps.append(x)
        return self.head(maps)
