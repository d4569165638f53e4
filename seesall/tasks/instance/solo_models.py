"""Named SOLO models (sizes here; plain-dict table)."""

from __future__ import annotations

from collections.abc import Callable

from seesall.nn.backbones import fastnet, fastnet_tiny, resnet18
from seesall.nn.fpn import FPN
from seesall.tasks.instance.solo_head import SOLO, MaskMode, SOLOHead
from seesall.tasks.instance.solo_targets import SOLOTargetConfig

LEVELS = ("p3", "p4", "p5")
SMALL_IMAGE_TARGETS = SOLOTargetConfig(grids=(24, 16, 8),
                                       scale_ranges=((0.0, 48.0), (24.0, 96.0), (48.0, 1e5)))
"""Three levels (strides 8, 16, 32) with scale ranges for images of ~128–512 pixels."""


def _solo(backbone, *, num_classes: int, mask_mode: MaskMode, channels: int, num_convs: int,
          targets: SOLOTargetConfig) -> SOLO:
    neck = FPN(in_specs=backbone.feature_specs, out_channels=channels)
    head = SOLOHead(in_channels=channels, num_classes=num_classes, grids=targets.grids,
                    mask_mode=mask_mode, channels=channels, num_convs=num_convs)
    return SOLO(backbone=backbone, neck=neck, head=head, levels=LEVELS)


def solo_fastnet(*, num_classes: int, mask_mode: MaskMode = "decoupled",
                 targets: SOLOTargetConfig = SMALL_IMAGE_TARGETS) -> SOLO:
    """SOLO on FastNet c3–c5 + FPN(96), towers of 3 convs."""
    return _solo(fastnet(out_features=("c3", "c4", "c5")), num_classes=num_classes,
                 mask_mode=mask_mode, channels=96, num_convs=3, targets=targets)


def solo_tiny(*, num_classes: int, mask_mode: MaskMode = "decoupled",
              targets: SOLOTargetConfig = SMALL_IMAGE_TARGETS) -> SOLO:
    """SOLO on FastNet-tiny + FPN(32), towers of 2 convs (tests)."""
    return _solo(fastnet_tiny(out_features=("c3", "c4", "c5")), num_classes=num_classes,
                 mask_mode=mask_mode, channels=32, num_convs=2, targets=targets)


def solo_r18(*, num_classes: int, mask_mode: MaskMode = "decoupled",
             targets: SOLOTargetConfig = SMALL_IMAGE_TARGETS) -> SOLO:
    """SOLO on ResNet-18 c3–c5 + FPN(128), towers of 4 convs."""
    return _solo(resnet18(out_features=("c3", "c4", "c5")), num_classes=num_classes,
                 mask_mode=mask_mode, channels=128, num_convs=4, targets=targets)


SOLO_MODELS: dict[str, Callable[..., SOLO]] = {
    "solo_tiny": solo_tiny,
    "solo_fastnet": solo_fastnet,
    "solo_r18": solo_r18,
}
