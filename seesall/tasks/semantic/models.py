"""Named semantic-segmentation models: sizes live here, the table is a plain dict."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import Tensor, nn

from seesall.tasks.semantic.fcn import FCN, fcn_from_classifier
from seesall.tasks.semantic.unet import UNet, UpMode

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(images: Tensor) -> Tensor:
    """uint8 Tensor[B, 3, H, W] -> float Tensor[B, 3, H, W] normalised with ImageNet statistics."""
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def unet_small(*, num_classes: int, up_mode: UpMode = "transposed", skips: bool = True,
               edge_head: bool = False) -> UNet:
    """U-Net with widths (32, 64, 128, 256): three poolings (H/8 at the bottom), 1.6–1.9 M params."""
    widths = (32, 64, 128, 256)
    return UNet(in_channels=3, num_classes=num_classes, widths=widths, up_mode=up_mode,
                skips=(skips,) * (len(widths) - 1), edge_head=edge_head)


def unet_tiny(*, num_classes: int, up_mode: UpMode = "transposed", skips: bool = True,
              edge_head: bool = False) -> UNet:
    """U-Net with widths (8, 16, 32) for tests."""
    widths = (8, 16, 32)
    return UNet(in_channels=3, num_classes=num_classes, widths=widths, up_mode=up_mode,
                skips=(skips,) * (len(widths) - 1), edge_head=edge_head)


def fcn8s_resnet18(*, num_classes: int, edge_head: bool = False) -> FCN:
    """FCN-8s on a (randomly initialised) torchvision ResNet-18 classifier."""
    classifier = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    return fcn_from_classifier(classifier, num_classes=num_classes,
                               skip_features=("c4", "c3"), edge_head=edge_head)


def fcn32s_resnet18(*, num_classes: int, edge_head: bool = False) -> FCN:
    """FCN-32s (no skips) on a torchvision ResNet-18 classifier."""
    classifier = torchvision.models.resnet18(weights=None, num_classes=num_classes)
    return fcn_from_classifier(classifier, num_classes=num_classes, skip_features=(),
                               edge_head=edge_head)


SEMANTIC_MODELS: dict[str, Callable[..., nn.Module]] = {
    "unet_small": unet_small,
    "unet_tiny": unet_tiny,
    "fcn8s_resnet18": fcn8s_resnet18,
    "fcn32s_resnet18": fcn32s_resnet18,
}
