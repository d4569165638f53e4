"""Semantic segmentation: FCN and U-Net models, CE / Lovász-softmax / Dice / edge losses,
mIoU and boundary-IoU metrics."""

from seesall.tasks.semantic.fcn import FCN, convolutionalize, fcn_from_classifier
from seesall.tasks.semantic.losses import (
    SemanticLossConfig,
    dice_loss,
    edge_targets,
    lovasz_softmax,
    semantic_loss,
)
from seesall.tasks.semantic.metrics import SemanticMetric, confusion_matrix, mask_boundary
from seesall.tasks.semantic.models import SEMANTIC_MODELS, preprocess
from seesall.tasks.semantic.unet import UNet

__all__ = [
    "FCN",
    "SEMANTIC_MODELS",
    "SemanticLossConfig",
    "SemanticMetric",
    "UNet",
    "confusion_matrix",
    "convolutionalize",
    "dice_loss",
    "edge_targets",
    "fcn_from_classifier",
    "lovasz_softmax",
    "mask_boundary",
    "preprocess",
    "semantic_loss",
]
