"""The conv tower that RoI heads (Mask R-CNN masks, Keypoint R-CNN heatmaps) put on pooled features."""

from __future__ import annotations

from torch import nn


def roi_conv_tower(in_channels: int, channels: int, num_convs: int) -> nn.Sequential:
    """``num_convs`` × (3×3 conv + ReLU): Tensor[R, in_channels, S, S] -> Tensor[R, channels, S, S]."""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def init_relu_convs(module: nn.Module) -> None:
    """He (fan-out) initialisation of every (transposed) convolution in ``module``, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
