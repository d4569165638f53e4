"""Encoders, heads and the embedding / SimCLR / classifier models built from them.

``Encoder`` contract: ``forward(x Tensor[B, C, H, W] float) -> Tensor[B, out_dim]``
and an ``out_dim`` attribute. Sizes live in the factories of :data:`ENCODERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.backbones import Backbone, fastnet_tiny


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """A small VGG-style CNN: stages of two conv-BN-ReLU, max-pool between stages, global
    average pool. Suits 8×8 digits (two pools) and 32–64 px crops (three or four)."""

    def __init__(self, *, in_channels: int, widths: Sequence[int], pools: int) -> None:
        super().__init__()
        if not 0 <= pools <= len(widths):
            raise ValueError(f"pools must be in [0, {len(widths)}], got {pools}")
        stages, cin = [], in_channels
        for i, w in enumerate(widths):
            stages.append(_block(cin, w, pool=i < pools))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.out_dim = int(widths[-1])

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor[B, C, H, W] -> Tensor[B, out_dim]."""
        return self.stages(x).mean(dim=(2, 3))  # (B, C)


class BackboneEncoder(nn.Module):
    """A shared ``seesall.nn`` backbone, global-average-pooled at its last feature map."""

    def __init__(self, *, backbone: Backbone) -> None:
        super().__init__()
        self.backbone = backbone
        last = backbone.feature_specs[-1]
        self.feature, self.out_dim = last.name, int(last.channels)

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor[B, 3, H, W] -> Tensor[B, out_dim]."""
        return self.backbone(x)[self.feature].mean(dim=(2, 3))


class MLPHead(nn.Module):
    """SimCLR's non-linear projection head: Linear-BN-ReLU-Linear."""

    def __init__(self, *, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim),
        )
        self.out_dim = out_dim

    def forward(self, h: Tensor) -> Tensor:
        """h: Tensor[B, in_dim] -> Tensor[B, out_dim]."""
        return self.net(h)


class EmbeddingNet(nn.Module):
    """Encoder + head -> L2-normalised embedding (FaceNet's unit hypersphere).

    ``forward`` returns Tensor[B, D] with unit rows; ``features`` the encoder output.
    """

    def __init__(self, *, encoder: nn.Module, head: nn.Module, normalize: bool = True) -> None:
        super().__init__()
        self.encoder, self.head, self.normalize = encoder, head, normalize

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        z = self.head(self.encoder(x))
        return F.normalize(z, dim=1) if self.normalize else z


class Classifier(nn.Module):
    """Encoder + linear layer -> class logits Tensor[B, num_classes] (the supervised baseline)."""

    def __init__(self, *, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(encoder.out_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.encoder(x))


def convnet_digits(*, in_channels: int = 3) -> ConvEncoder:
    """For 8×8 digits: widths 32-64-128, two pools (8 -> 2), ~0.29 M parameters."""
    return ConvEncoder(in_channels=in_channels, widths=(32, 64, 128), pools=2)


def convnet_crops(*, in_channels: int = 3) -> ConvEncoder:
    """For 24–64 px crops: widths 24-48-96-128, three pools, ~0.35 M parameters."""
    return ConvEncoder(in_channels=in_channels, widths=(24, 48, 96, 128), pools=3)


def fastnet_tiny_encoder(*, in_channels: int = 3) -> BackboneEncoder:
    """The shared tiny FastNet backbone (c5, 128 channels); expects >= 32 px inputs."""
    if in_channels != 3:
        raise ValueError(f"fastnet_tiny_encoder takes 3 channels, got {in_channels}")
    return BackboneEncoder(backbone=fastnet_tiny())


ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "convnet_digits": convnet_digits,
    "convnet_crops": convnet_crops,
    "fastnet_tiny": fastnet_tiny_encoder,
}


def embedding_net(encoder: str, *, dim: int = 64, hidden_dim: int = 256) -> EmbeddingNet:
    """An :class:`EmbeddingNet` on an encoder of :data:`ENCODERS` with an MLP head to ``dim``."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from {sorted(ENCODERS)}")
    enc = ENCODERS[encoder]()
    return EmbeddingNet(encoder=enc, head=MLPHead(in_dim=enc.out_dim, hidden_dim=hidden_dim,
                                                  out_dim=dim))
