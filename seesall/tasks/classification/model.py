"""The classifier (backbone + pool + linear head), its loss and post-processing."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.backbones import (
    Backbone,
    fastnet,
    fastnet_tiny,
    mobilenet_v3_large,
    resnet18,
    resnet50,
)


class Classifier(nn.Module):
    """Global-average-pooled deepest backbone feature -> dropout -> linear head.

    forward(images: Tensor[B, 3, H, W] float, normalised) -> logits Tensor[B, num_classes],
    in train and eval mode alike.
    """

    def __init__(self, *, backbone: Backbone, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"Classifier num_classes must be >= 1, got {num_classes}")
        self.backbone = backbone
        self.feature = backbone.feature_specs[-1].name
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(backbone.feature_specs[-1].channels, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        f = self.backbone(images)[self.feature]  # (B, C, h, w)
        pooled = f.mean(dim=(2, 3))  # (B, C)
        return self.head(self.dropout(pooled))


def classification_loss(logits: Tensor, labels: Tensor, *, label_smoothing: float = 0.0) -> dict[str, Tensor]:
    """Cross-entropy. logits: Tensor[B, K]; labels: Tensor[B] int64 -> {"total", "ce"}."""
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"classification_loss: logits {tuple(logits.shape)} vs labels {tuple(labels.shape)}")
    ce = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
    return {"total": ce, "ce": ce}


def postprocess(logits: Tensor) -> Tensor:
    """Raw logits Tensor[B, K] -> class probabilities Tensor[B, K]."""
    return logits.float().softmax(dim=-1)


def _last_only() -> tuple[str, ...]:
    return ("c5",)


def classifier_tiny(*, num_classes: int) -> Classifier:
    """FastNet-tiny (~0.2 M parameters): tests and quick runs."""
    return Classifier(backbone=fastnet_tiny(out_features=_last_only()), num_classes=num_classes)


def classifier_small(*, num_classes: int) -> Classifier:
    """FastNet (~1.2 M parameters): the CPU default."""
    return Classifier(backbone=fastnet(out_features=_last_only()), num_classes=num_classes, dropout=0.1)


def resnet18_cls(*, num_classes: int) -> Classifier:
    """ResNet-18 classifier (torchvision's definition; initialise with --init FILE)."""
    return Classifier(backbone=resnet18(out_features=_last_only()), num_classes=num_classes)


def resnet50_cls(*, num_classes: int) -> Classifier:
    """ResNet-50 classifier (torchvision's definition)."""
    return Classifier(backbone=resnet50(out_features=_last_only()), num_classes=num_classes)


def mobilenet_v3_cls(*, num_classes: int) -> Classifier:
    """MobileNetV3-Large classifier (torchvision's features, a linear head)."""
    return Classifier(backbone=mobilenet_v3_large(out_features=_last_only()), num_classes=num_classes, dropout=0.2)


MODELS: dict[str, Callable[..., Classifier]] = {
    "classifier_tiny": classifier_tiny,
    "classifier_small": classifier_small,
    "resnet18_cls": resnet18_cls,
    "resnet50_cls": resnet50_cls,
    "mobilenet_v3_cls": mobilenet_v3_cls,
}
"""Model name -> factory(*, num_classes)."""
