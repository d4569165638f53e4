"""Feature Pyramid Network on top of any backbone of the seesall contract.

Wraps ``torchvision.ops.FeaturePyramidNetwork``: reads its input channels from
the backbone's ``feature_specs``, renames ``c{k}`` to ``p{k}``, and optionally
adds P6/P7 (RetinaNet: strided 3x3 convs on P5) or a max-pooled P6 (Faster
R-CNN's extra RPN level). It has the backbone contract itself: ``forward(features)
-> dict[str, Tensor]`` and ``feature_specs``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn
from torchvision.ops.feature_pyramid_network import (
    FeaturePyramidNetwork,
    LastLevelMaxPool,
    LastLevelP6P7,
)

from seesall.nn.backbones import FeatureSpec

Extra = Literal["none", "p6p7", "maxpool"]


class FPN(nn.Module):
    """Top-down pyramid with lateral connections, all levels with ``out_channels``.

    Args:
        in_specs: the backbone's feature specs of the maps to use (e.g. c3, c4, c5).
        out_channels: channels of every pyramid level.
        extra: "none", "p6p7" (two extra stride-2 levels from P5) or "maxpool" (P6 by
            max pooling P5).
    """

    def __init__(self, *, in_specs: Sequence[FeatureSpec], out_channels: int,
                 extra: Extra = "none") -> None:
        super().__init__()
        if not in_specs:
            raise ValueError("FPN needs at least one input feature spec")
        strides = [s.stride for s in in_specs]
        if any(b != 2 * a for a, b in zip(strides, strides[1:], strict=False)):
            raise ValueError(f"FPN inputs must have strides doubling level by level, got {strides}")
        blocks = {"none": None, "p6p7": LastLevelP6P7(out_channels, out_channels),
                  "maxpool": LastLevelMaxPool()}
        if extra not in blocks:
            raise ValueError(f"extra must be none, p6p7 or maxpool, got {extra!r}")
        self.in_names = [s.name for s in in_specs]
        self.fpn = FeaturePyramidNetwork([s.channels for s in in_specs], out_channels,
                                         extra_blocks=blocks[extra])
        levels = [(f"p{_level(s.stride)}", s.stride) for s in in_specs]
        n_extra = {"none": 0, "p6p7": 2, "maxpool": 1}[extra]
        for i in range(n_extra):
            stride = strides[-1] * 2 ** (i + 1)
            levels.append((f"p{_level(stride)}", stride))
        self.feature_specs = [FeatureSpec(n, out_channels, s) for n, s in levels]

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """features: the backbone output (must hold ``in_names``) -> {"p3": Tensor[B, C, H/8,
        W/8], ...}, in order of increasing stride."""
        missing = [n for n in self.in_names if n not in features]
        if missing:
            raise ValueError(f"FPN: backbone output lacks feature maps {missing}")
        out = self.fpn(OrderedDict((n, features[n]) for n in self.in_names))
        return {spec.name: x for spec, x in zip(self.feature_specs, out.values(), strict=True)}


def _level(stride: int) -> int:
    return stride.bit_length() - 1
