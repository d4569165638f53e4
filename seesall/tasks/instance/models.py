"""Instance-segmentation models behind one interface (``Segmenter``), in one plain table.

``Segmenter.losses(images, targets)`` and ``Segmenter.predict(images, image_sizes)``
take uint8 padded batches and ``Objects`` (with masks), whatever the model inside:
Mask R-CNN (two-stage, boxes then masks) or SOLO (box-free).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.backbones import normalize_image
from seesall.structures import Objects
from seesall.tasks.detection.models import Detector, faster_rcnn_r18, faster_rcnn_small
from seesall.tasks.instance.mask_head import MaskHead
from seesall.tasks.instance.mask_rcnn import MaskRCNN, MaskRCNNLoss, MaskRCNNPostprocess
from seesall.tasks.instance.solo_head import SOLO, MaskMode
from seesall.tasks.instance.solo_loss import SOLOLossConfig, solo_loss
from seesall.tasks.instance.solo_models import (
    DEFAULT_LEVELS,
    SOLOLevels,
    solo_fastnet,
    solo_r18,
    solo_tiny,
)
from seesall.tasks.instance.solo_post import SOLOPostConfig, solo_postprocess
from seesall.tasks.keypoints.head import KeypointHead


@dataclass
class Segmenter:
    """A model with its loss and post-processing (as DETR's ``build`` returns them)."""

    model: nn.Module
    criterion: Callable[[Any, Sequence[Objects]], dict[str, Tensor]]
    postprocess: Callable[[Any, Sequence[tuple[int, int]]], list[Objects]]

    def losses(self, images: Tensor, targets: Sequence[Objects]) -> dict[str, Tensor]:
        """Loss terms of a padded uint8 batch Tensor[B, 3, H, W]."""
        if isinstance(self.model, MaskRCNN):
            return self.criterion(self.model(images, targets), targets)
        return self.criterion(self.model(normalize_image(images)), targets)

    @torch.no_grad()
    def predict(self, images: Tensor, image_sizes: Sequence[tuple[int, int]]) -> list[Objects]:
        """Predictions per image (call ``model.eval()`` first)."""
        if isinstance(self.model, MaskRCNN):
            return self.postprocess(self.model(images, None, image_sizes), image_sizes)
        return self.postprocess(self.model(normalize_image(images)), image_sizes)


@dataclass
class SOLOCriterion:
    """``solo_loss`` on Objects: pads the ground-truth masks to the batch's padded size,
    which is ``mask_stride`` × the finest mask map (stride 8 level, mask at ×2: 4)."""

    cfg: SOLOLossConfig
    mask_stride: int

    def __call__(self, outputs: dict[str, list[Tensor]], targets: Sequence[Objects]
                 ) -> dict[str, Tensor]:
        finest = outputs["mask" if "mask" in outputs else "mask_x"][0]
        size = (int(finest.shape[-2]) * self.mask_stride, int(finest.shape[-1]) * self.mask_stride)
        dev = finest.device
        masks = [_pad(t.masks.as_subclass(Tensor).to(dev), size) for t in targets]
        labels = [t.labels.to(dev) for t in targets]
        boxes = [t.boxes.as_subclass(Tensor).to(dev) for t in targets]
        return solo_loss(outputs, masks, labels, boxes, self.cfg)


def _pad(masks: Tensor, size: tuple[int, int]) -> Tensor:
    return F.pad(masks, (0, size[1] - masks.shape[-1], 0, size[0] - masks.shape[-2]))


@dataclass
class SOLOPostprocess:
    """``solo_postprocess`` with the model's grids and strides."""

    model: SOLO
    cfg: SOLOPostConfig = field(default_factory=SOLOPostConfig)

    def __call__(self, outputs: dict[str, list[Tensor]], image_sizes: Sequence[tuple[int, int]]
                 ) -> list[Objects]:
        key = "mask" if "mask" in outputs else "mask_x"
        size = (int(outputs[key][0].shape[-2]) * self.model.strides[0] // 2,
                int(outputs[key][0].shape[-1]) * self.model.strides[0] // 2)
        return solo_postprocess(outputs, grids=self.model.head.grids, strides=self.model.strides,
                                padded_size=size, image_sizes=list(image_sizes), cfg=self.cfg)


def build_mask_rcnn(det: Detector, *, num_classes: int, channels: int, num_convs: int = 4,
                    keypoint_head: KeypointHead | None = None,
                    keypoint_classes: tuple[int, ...] = (), num_keypoints: int = 0,
                    with_masks: bool = True) -> Segmenter:
    """Mask R-CNN (and/or Keypoint R-CNN) on a Faster R-CNN ``Detector``."""
    frcnn = det.model
    fpn_channels = frcnn.neck.feature_specs[0].channels
    mask_head = MaskHead(featmap_names=list(frcnn.roi_levels), in_channels=fpn_channels,
                         num_classes=num_classes, channels=channels,
                         num_convs=num_convs) if with_masks else None
    model = MaskRCNN(detector=frcnn, box_postprocess=det.postprocess, mask_head=mask_head,
                     keypoint_head=keypoint_head, keypoint_classes=keypoint_classes)
    return Segmenter(model, MaskRCNNLoss(box_loss=det.criterion),
                     MaskRCNNPostprocess(num_keypoints=num_keypoints))


def mask_rcnn_small(*, num_classes: int, **detector: Any) -> Segmenter:
    """FastNet + FPN 64 Faster R-CNN, 4-conv 64-wide mask head; ``detector`` options go to
    ``faster_rcnn_small`` (e.g. ``roi_batch_size``: the mask head sees up to a quarter of
    those RoIs per image, the positives, and dominates a CPU step)."""
    return build_mask_rcnn(faster_rcnn_small(num_classes=num_classes, **detector),
                           num_classes=num_classes, channels=64)


def mask_rcnn_r18(*, num_classes: int) -> Segmenter:
    """ResNet-18 + FPN 128 Faster R-CNN, 4-conv 128-wide mask head."""
    return build_mask_rcnn(faster_rcnn_r18(num_classes=num_classes), num_classes=num_classes,
                           channels=128)


def _solo_segmenter(build: Callable[..., SOLO], *, num_classes: int, mask_mode: MaskMode,
                    levels: SOLOLevels) -> Segmenter:
    """A SOLO model with the loss and post-processing of the same level set."""
    model = build(num_classes=num_classes, mask_mode=mask_mode, levels=levels)
    cfg = SOLOLossConfig(targets=levels.targets)
    return Segmenter(model, SOLOCriterion(cfg, model.strides[0] // 2), SOLOPostprocess(model))


def solo_small(*, num_classes: int, mask_mode: MaskMode = "decoupled",
               levels: SOLOLevels = DEFAULT_LEVELS) -> Segmenter:
    return _solo_segmenter(solo_fastnet, num_classes=num_classes, mask_mode=mask_mode, levels=levels)


def solo_small_vanilla(*, num_classes: int, levels: SOLOLevels = DEFAULT_LEVELS) -> Segmenter:
    return _solo_segmenter(solo_fastnet, num_classes=num_classes, mask_mode="vanilla", levels=levels)


def solo_tiny_segmenter(*, num_classes: int, mask_mode: MaskMode = "decoupled",
                        levels: SOLOLevels = DEFAULT_LEVELS) -> Segmenter:
    return _solo_segmenter(solo_tiny, num_classes=num_classes, mask_mode=mask_mode, levels=levels)


def solo_r18_segmenter(*, num_classes: int, mask_mode: MaskMode = "decoupled",
                       levels: SOLOLevels = DEFAULT_LEVELS) -> Segmenter:
    return _solo_segmenter(solo_r18, num_classes=num_classes, mask_mode=mask_mode, levels=levels)


INSTANCE_MODELS: dict[str, Callable[..., Segmenter]] = {
    "mask_rcnn_small": mask_rcnn_small,
    "mask_rcnn_r18": mask_rcnn_r18,
    "solo_small": solo_small,
    "solo_small_vanilla": solo_small_vanilla,
    "solo_tiny": solo_tiny_segmenter,
    "solo_r18": solo_r18_segmenter,
}
"""Model name -> factory(*, num_classes)."""
