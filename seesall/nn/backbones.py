"""Backbones with one contract (STYLE rule 7), built from torchvision's definitions.

Every backbone is an ``nn.Module`` with

* ``forward(x: Tensor[B, 3, H, W] float, normalised) -> dict[str, Tensor]``, one
  feature map ``Tensor[B, C_i, H / s_i, W / s_i]`` per requested stage, in order of
  increasing stride (names ``"c2"`` .. ``"c5"`` for strides 4 .. 32);
* ``feature_specs: list[FeatureSpec]``, the name, channels and stride of every
  returned map, so heads and necks read their input channels from it.

``out_features`` chooses which stages are returned; stages deeper than the last
requested one are not built. Weights are never downloaded: ``weights=PATH`` loads
a local file (safetensors or a weights-only torch file, torchvision key names
accepted) through :func:`seesall.engine.transfer.load_backbone_weights`.

Images enter as uint8; :func:`normalize_image` is the one place that turns them
into the float, mean/std-normalised input every backbone expects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision.models import mobilenetv3, resnet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGE_NAMES = ("c2", "c3", "c4", "c5")
STAGE_STRIDES = {"c2": 4, "c3": 8, "c4": 16, "c5": 32}


def normalize_image(
    images: Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> Tensor:
    """uint8 images to the float input of every backbone.

    Args:
        images: Tensor[..., 3, H, W], uint8 in [0, 255] (or float already in [0, 1]).
        mean, std: per-channel statistics on the [0, 1] scale (ImageNet's by default).

    Returns:
        Tensor[..., 3, H, W] float32: ``(images / 255 - mean) / std``.
    """
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"normalize_image expects Tensor[..., 3, H, W], got {tuple(images.shape)}")
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - m) / s


@dataclass(frozen=True)
class FeatureSpec:
    """One feature map of a backbone: its key in the output dict, channels and stride."""

    name: str
    channels: int
    stride: int


def _check_out_features(out_features: Sequence[str]) -> list[str]:
    names = list(out_features)
    if not names:
        raise ValueError("out_features must name at least one stage of c2, c3, c4, c5")
    for n in names:
        if n not in STAGE_STRIDES:
            raise ValueError(f"out_features: unknown stage {n!r}; expected some of {STAGE_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"out_features has duplicates: {names}")
    return sorted(names, key=STAGE_NAMES.index)


class Backbone(nn.Module):
    """Base of every backbone: ``forward(x) -> dict[str, Tensor]`` plus ``feature_specs``.

    Subclasses set ``out_features`` (returned stage names, by increasing stride) and
    ``feature_specs`` (one :class:`FeatureSpec` per returned map) in ``__init__``.
    """

    out_features: list[str]
    feature_specs: list[FeatureSpec]

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def stages(self) -> list[nn.Module]:
        """The stem then every built stage (c2, c3, ...), for freezing by stage number."""
        raise NotImplementedError

    @property
    def out_channels(self) -> int:
        """Channels of the deepest returned map (what a classifier head pools)."""
        return self.feature_specs[-1].channels


class ResNetBackbone(Backbone):
    """torchvision's ResNet without pool/fc; module names equal torchvision's.

    A torchvision ``resnet*().state_dict()`` (without ``fc.*``) loads directly.
    Returns ``c2..c5`` = outputs of ``layer1..layer4`` (strides 4, 8, 16, 32).
    """

    def __init__(self, *, net: resnet.ResNet, out_features: Sequence[str]) -> None:
        super().__init__()
        self.out_features = _check_out_features(out_features)
        last = STAGE_NAMES.index(self.out_features[-1])
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        layers = [net.layer1, net.layer2, net.layer3, net.layer4]
        for i in range(last + 1):
            self.add_module(f"layer{i + 1}", layers[i])
        self.num_stages = last + 1
        self.feature_specs = [
            FeatureSpec(n, _last_channels(layers[STAGE_NAMES.index(n)]), STAGE_STRIDES[n]) for n in self.out_features
        ]

    def stages(self) -> list[nn.Module]:
        stem = nn.ModuleList([self.conv1, self.bn1])
        return [stem] + [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: Tensor[B, 3, H, W] normalised -> {name: Tensor[B, C, H/s, W/s]}."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out: dict[str, Tensor] = {}
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
            if STAGE_NAMES[i] in self.out_features:
                out[STAGE_NAMES[i]] = x
        return out


def _last_channels(layer: nn.Sequential) -> int:
    block = layer[-1]
    bn = block.bn3 if hasattr(block, "bn3") else block.bn2
    return int(bn.num_features)


class MobileNetV3Backbone(Backbone):
    """torchvision's MobileNetV3 ``features`` (key names ``features.N.*`` kept).

    Stage ends (torchvision ``mobilenet_v3_large``): c2 = features[3] (24 ch),
    c3 = features[6] (40), c4 = features[12] (112), c5 = features[16] (960).
    """

    def __init__(self, *, net: mobilenetv3.MobileNetV3, out_features: Sequence[str]) -> None:
        super().__init__()
        self.out_features = _check_out_features(out_features)
        feats = net.features
        # a stage ends just before the next stride-2 block (torchvision marks them _is_cn)
        starts = [i for i, b in enumerate(feats) if getattr(b, "_is_cn", False)]
        ends = [s - 1 for s in starts[1:]] + [len(feats) - 1]  # ends of strides 4, 8, 16, 32
        self.stage_ends = dict(zip(STAGE_NAMES, ends, strict=True))
        last_idx = self.stage_ends[self.out_features[-1]]
        self.features = nn.Sequential(*list(feats)[: last_idx + 1])
        probe = _probe_channels(self.features, self.stage_ends, self.out_features)
        self.feature_specs = [FeatureSpec(n, probe[n], STAGE_STRIDES[n]) for n in self.out_features]

    def stages(self) -> list[nn.Module]:
        blocks = list(self.features)
        result: list[nn.Module] = [blocks[0]]  # stem: features[0]
        start = 1
        for name in STAGE_NAMES:
            end = min(self.stage_ends[name], len(blocks) - 1)
            if start <= end:
                result.append(nn.ModuleList(blocks[start : end + 1]))
            start = end + 1
        return result

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: Tensor[B, 3, H, W] normalised -> {name: Tensor[B, C, H/s, W/s]}."""
        wanted = {self.stage_ends[n]: n for n in self.out_features}
        out: dict[str, Tensor] = {}
        for i, block in enumerate(self.features):
            x = block(x)
            if i in wanted:
                out[wanted[i]] = x
        return out


def _probe_channels(features: nn.Sequential, ends: dict[str, int], names: list[str]) -> dict[str, int]:
    """Output channels at each stage end, read from the last conv's out_channels."""
    result = {}
    for n in names:
        convs = [m for m in features[: ends[n] + 1].modules() if isinstance(m, nn.Conv2d)]
        result[n] = int(convs[-1].out_channels)
    return result


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (no bias) + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FastNet(Backbone):
    """A small plain CNN for the synthetic world on CPU (~1.2 M parameters at default widths).

    stem: conv s2 -> conv s2 (stride 4); then four stages c2..c5, each
    [conv s2 (except c2)] + ``depth`` conv-BN-ReLU, at strides 4, 8, 16, 32.
    """

    def __init__(self, *, widths: Sequence[int], depth: int, out_features: Sequence[str]) -> None:
        super().__init__()
        if len(widths) != 4 or any(w <= 0 for w in widths):
            raise ValueError(f"FastNet widths must be 4 positive ints, got {list(widths)}")
        if depth < 1:
            raise ValueError(f"FastNet depth must be >= 1, got {depth}")
        self.out_features = _check_out_features(out_features)
        last = STAGE_NAMES.index(self.out_features[-1])
        half = max(widths[0] // 2, 1)
        self.stem = nn.Sequential(conv_bn_relu(3, half, 2), conv_bn_relu(half, widths[0], 2))
        stages = []
        cin = widths[0]
        for i in range(last + 1):
            blocks = [conv_bn_relu(cin, widths[i], 1 if i == 0 else 2)]
            blocks += [conv_bn_relu(widths[i], widths[i]) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = widths[i]
        self.blocks = nn.ModuleList(stages)
        self.feature_specs = [
            FeatureSpec(n, int(widths[STAGE_NAMES.index(n)]), STAGE_STRIDES[n]) for n in self.out_features
        ]

    def stages(self) -> list[nn.Module]:
        return [self.stem, *self.blocks]

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: Tensor[B, 3, H, W] normalised -> {name: Tensor[B, C, H/s, W/s]}."""
        x = self.stem(x)
        out: dict[str, Tensor] = {}
        for name, stage in zip(STAGE_NAMES, self.blocks, strict=False):
            x = stage(x)
            if name in self.out_features:
                out[name] = x
        return out


NormLayer = Callable[..., nn.Module] | None


def _maybe_load(model: nn.Module, weights: str | os.PathLike | None) -> None:
    if weights is not None:
        from seesall.engine.transfer import load_backbone_weights

        load_backbone_weights(model, weights)


def resnet18(
    *,
    out_features: Sequence[str] = STAGE_NAMES,
    norm_layer: NormLayer = None,
    weights: str | os.PathLike | None = None,
) -> ResNetBackbone:
    """ResNet-18 (torchvision definition): c2..c5 with 64, 128, 256, 512 channels."""
    net = resnet.resnet18(weights=None, norm_layer=norm_layer)
    model = ResNetBackbone(net=net, out_features=out_features)
    _maybe_load(model, weights)
    return model


def resnet50(
    *,
    out_features: Sequence[str] = STAGE_NAMES,
    norm_layer: NormLayer = None,
    weights: str | os.PathLike | None = None,
) -> ResNetBackbone:
    """ResNet-50 (torchvision definition): c2..c5 with 256, 512, 1024, 2048 channels."""
    net = resnet.resnet50(weights=None, norm_layer=norm_layer)
    model = ResNetBackbone(net=net, out_features=out_features)
    _maybe_load(model, weights)
    return model


def mobilenet_v3_large(
    *,
    out_features: Sequence[str] = STAGE_NAMES,
    norm_layer: NormLayer = None,
    weights: str | os.PathLike | None = None,
) -> MobileNetV3Backbone:
    """MobileNetV3-Large (torchvision definition): c2..c5 with 24, 40, 112, 960 channels."""
    net = mobilenetv3.mobilenet_v3_large(weights=None, norm_layer=norm_layer)
    model = MobileNetV3Backbone(net=net, out_features=out_features)
    _maybe_load(model, weights)
    return model


def fastnet(
    *,
    out_features: Sequence[str] = STAGE_NAMES,
    widths: Sequence[int] = (32, 64, 128, 256),
    depth: int = 2,
    weights: str | os.PathLike | None = None,
) -> FastNet:
    """The small CPU backbone: c2..c5 with 32, 64, 128, 256 channels (~1.2 M parameters)."""
    model = FastNet(widths=widths, depth=depth, out_features=out_features)
    _maybe_load(model, weights)
    return model


def fastnet_tiny(
    *,
    out_features: Sequence[str] = STAGE_NAMES,
    weights: str | os.PathLike | None = None,
) -> FastNet:
    """A quarter-width FastNet for tests and quick runs: 16, 32, 64, 128 channels (~0.2 M)."""
    return fastnet(out_features=out_features, widths=(16, 32, 64, 128), depth=2, weights=weights)


BACKBONES: dict[str, Callable[..., Backbone]] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v3_large": mobilenet_v3_large,
    "fastnet": fastnet,
    "fastnet_tiny": fastnet_tiny,
}
"""Backbone name -> factory (keyword-only: ``out_features``, ``weights``, ...)."""
