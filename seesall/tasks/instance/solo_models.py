"""Named SOLO models (sizes here; plain-dict table) and their pyramid level sets.

The SOLO paper (Wang et al., ECCV 2020, sec. 3.1 and the reference implementation)
reads five FPN levels P2–P6 of ~800 px images: grids S = 40, 36, 24, 16, 12, scale
ranges of sqrt(box area) (1, 96), (48, 192), (96, 384), (192, 768), (384, 2048), and the
head sees the levels at strides 8, 8, 16, 32, 32 (P2 halved, P6 brought up to P5's size),
so the mask maps come at strides 4, 4, 8, 16, 16.

``FIVE_LEVELS`` keeps that structure for the world's images (~128 px; objects of 8 px
to half the image):

* scale ranges = the paper's / 6 (800 px / 6 ≈ 133 px): (0, 16), (8, 32), (16, 64),
  (32, 128), (64, ∞) — the upper end of the last level is left open;
* grids = the paper's × 0.6, rounded: 24, 22, 14, 10, 7, so that the finest grid (24)
  stays coarser than the finest mask map of a 128 px image (32 × 32 at stride 4);
* head strides 8, 8, 16, 32, 32 as in the paper.

``THREE_LEVELS`` is the earlier P3–P5 set (strides 8, 16, 32; grids 24, 16, 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seesall.nn.backbones import Backbone, fastnet, fastnet_tiny, resnet18
from seesall.nn.fpn import FPN
from seesall.tasks.instance.solo_head import SOLO, MaskMode, SOLOHead
from seesall.tasks.instance.solo_targets import SOLOTargetConfig


@dataclass(frozen=True)
class SOLOLevels:
    """The pyramid levels SOLO reads.

    Attributes:
        names: FPN outputs, shallow to deep, among p2..p6 (p6 is max-pooled from p5).
        strides: the stride at which the head sees each level (resized when it differs
            from the FPN's).
        targets: a grid and a scale range per level.
    """

    names: tuple[str, ...]
    strides: tuple[int, ...]
    targets: SOLOTargetConfig

    def __post_init__(self) -> None:
        n = len(self.names)
        if not n or len(self.strides) != n or len(self.targets.grids) != n \
                or len(self.targets.scale_ranges) != n:
            raise ValueError(f"SOLOLevels: names {self.names}, strides {self.strides}, grids "
                             f"{self.targets.grids} and scale_ranges must have one entry per "
                             f"level")
        bad = [x for x in self.names if x not in ("p2", "p3", "p4", "p5", "p6")]
        if bad:
            raise ValueError(f"SOLOLevels.names: {bad} are not among p2..p6")


FIVE_LEVELS = SOLOLevels(
    names=("p2", "p3", "p4", "p5", "p6"), strides=(8, 8, 16, 32, 32),
    targets=SOLOTargetConfig(grids=(24, 22, 14, 10, 7),
                             scale_ranges=((0.0, 16.0), (8.0, 32.0), (16.0, 64.0),
                                           (32.0, 128.0), (64.0, 1e5))))
"""The paper's P2–P6 structure scaled to ~128 px images (see the module docstring)."""

THREE_LEVELS = SOLOLevels(
    names=("p3", "p4", "p5"), strides=(8, 16, 32),
    targets=SOLOTargetConfig(grids=(24, 16, 8),
                             scale_ranges=((0.0, 48.0), (24.0, 96.0), (48.0, 1e5))))
"""Three levels (strides 8, 16, 32) with scale ranges for images of ~128–512 pixels."""

DEFAULT_LEVELS = FIVE_LEVELS


def backbone_features(levels: SOLOLevels) -> tuple[str, ...]:
    """Backbone stages the FPN needs for ``levels``: c{k} from the shallowest level to c5."""
    first = min(int(n[1:]) for n in levels.names)
    return tuple(f"c{k}" for k in range(min(first, 5), 6))


def _solo(backbone: Backbone, *, num_classes: int, mask_mode: MaskMode, channels: int,
          num_convs: int, levels: SOLOLevels) -> SOLO:
    extra = "maxpool" if "p6" in levels.names else "none"
    neck = FPN(in_specs=backbone.feature_specs, out_channels=channels, extra=extra)
    head = SOLOHead(in_channels=channels, num_classes=num_classes, grids=levels.targets.grids,
                    mask_mode=mask_mode, channels=channels, num_convs=num_convs)
    return SOLO(backbone=backbone, neck=neck, head=head, levels=levels.names,
                level_strides=levels.strides)


def solo_fastnet(*, num_classes: int, mask_mode: MaskMode = "decoupled",
                 levels: SOLOLevels = DEFAULT_LEVELS) -> SOLO:
    """SOLO on FastNet + FPN(96) (P2–P6 by default), towers of 3 convs."""
    return _solo(fastnet(out_features=backbone_features(levels)), num_classes=num_classes,
                 mask_mode=mask_mode, channels=96, num_convs=3, levels=levels)


def solo_tiny(*, num_classes: int, mask_mode: MaskMode = "decoupled",
              levels: SOLOLevels = DEFAULT_LEVELS) -> SOLO:
    """SOLO on FastNet-tiny + FPN(32), towers of 2 convs (tests)."""
    return _solo(fastnet_tiny(out_features=backbone_features(levels)), num_classes=num_classes,
                 mask_mode=mask_mode, channels=32, num_convs=2, levels=levels)


def solo_r18(*, num_classes: int, mask_mode: MaskMode = "decoupled",
             levels: SOLOLevels = DEFAULT_LEVELS) -> SOLO:
    """SOLO on ResNet-18 + FPN(128), towers of 4 convs."""
    return _solo(resnet18(out_features=backbone_features(levels)), num_classes=num_classes,
                 mask_mode=mask_mode, channels=128, num_convs=4, levels=levels)


SOLO_MODELS: dict[str, Callable[..., SOLO]] = {
    "solo_tiny": solo_tiny,
    "solo_fastnet": solo_fastnet,
    "solo_r18": solo_r18,
}
