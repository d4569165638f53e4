"""Shared network parts: backbones (one contract), and blocks used by several tasks."""

from seesall.nn.backbones import (
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Backbone,
    FastNet,
    FeatureSpec,
    MobileNetV3Backbone,
    ResNetBackbone,
    fastnet,
    fastnet_tiny,
    mobilenet_v3_large,
    normalize_image,
    resnet18,
    resnet50,
)

__all__ = [
    "BACKBONES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Backbone",
    "FastNet",
    "FeatureSpec",
    "MobileNetV3Backbone",
    "ResNetBackbone",
    "fastnet",
    "fastnet_tiny",
    "mobilenet_v3_large",
    "normalize_image",
    "resnet18",
    "resnet50",
]
