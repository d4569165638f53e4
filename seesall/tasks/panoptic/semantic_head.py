"""The semantic branch of Panoptic FPN (Kirillov et al. 2019, "Panoptic Feature Pyramid
Networks", sec. 3.2, Fig. 3).

Every FPN level is brought to the finest level's resolution (1/4 in the paper, P2) by
stages of 3×3 conv + GroupNorm + ReLU + 2× bilinear upsampling, one stage per factor
2 (P5: three stages, P4: two, P3: one; the finest level: one conv stage without
upsampling). The maps are summed, a 1×1 conv predicts the stuff classes plus one
"other" class for every thing pixel, and a bilinear upsampling by the finest stride
(4× in the paper) gives logits at the input resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.backbones import FeatureSpec


def _conv_gn_relu(cin: int, cout: int) -> nn.Sequential:
    groups = 32 if cout % 32 == 0 else (8 if cout % 8 == 0 else 1)
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.GroupNorm(groups, cout), nn.ReLU(inplace=True))


class _ScaleBranch(nn.Module):
    """conv-GN-ReLU (+ 2× bilinear) repeated ``num_up`` times (once, without upsampling,
    when ``num_up`` is 0)."""

    def __init__(self, in_channels: int, channels: int, num_up: int) -> None:
        super().__init__()
        self.num_up = num_up
        self.convs = nn.ModuleList([_conv_gn_relu(in_channels if i == 0 else channels, channels)
                                    for i in range(max(num_up, 1))])

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x)
            if self.num_up > 0:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return x


class SemanticFPNHead(nn.Module):
    """Args:
        in_specs: the FPN levels to use (name, channels, stride), strides doubling.
        num_classes: stuff classes + 1 ("other" = every thing pixel).
        channels: width of the upsampling stages (128 in the paper).
    """

    def __init__(self, *, in_specs: Sequence[FeatureSpec], num_classes: int,
                 channels: int = 128) -> None:
        super().__init__()
        if not in_specs:
            raise ValueError("SemanticFPNHead needs at least one FPN level")
        strides = [s.stride for s in in_specs]
        if any(b != 2 * a for a, b in zip(strides, strides[1:], strict=False)):
            raise ValueError(f"SemanticFPNHead levels must have strides doubling level by "
                             f"level, got {strides}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2 (stuff + other), got {num_classes}")
        self.names = [s.name for s in in_specs]
        self.output_stride = strides[0]
        self.branches = nn.ModuleList([_ScaleBranch(s.channels, channels, i)
                                       for i, s in enumerate(in_specs)])
        self.predictor = nn.Conv2d(channels, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        """features: FPN maps {name: Tensor[B, C, H/s, W/s]} -> logits Tensor[B, K, H, W]
        (K = num_classes, H × W = finest map × its stride)."""
        missing = [n for n in self.names if n not in features]
        if missing:
            raise ValueError(f"SemanticFPNHead: FPN output lacks levels {missing}")
        finest = features[self.names[0]]
        x = self.branches[0](finest)
        for name, branch in zip(self.names[1:], self.branches[1:], strict=True):
            y = branch(features[name])
            if y.shape[-2:] != x.shape[-2:]:  # odd sizes: pyramid levels round up
                y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x = x + y
        logits = self.predictor(x)  # (B, K, H/s, W/s)
        size = (finest.shape[-2] * self.output_stride, finest.shape[-1] * self.output_stride)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
