"""Detector factories: sizes live here, the table is one plain dict.

Each factory returns a ``Detector``: the model (an ``nn.Module`` returning raw
outputs), its loss and its post-processing, as DETR's ``build`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from seesall.nn import backbones as bb
from seesall.nn.fpn import FPN
from seesall.ops.anchors import AnchorGenerator
from seesall.ops.boxes import BoxCoder
from seesall.structures import Objects
from seesall.tasks.detection.faster_rcnn import FasterRCNN, FasterRCNNLoss, FasterRCNNPostprocess
from seesall.tasks.detection.losses import ClsLoss
from seesall.tasks.detection.retinanet import (
    RetinaHead,
    RetinaNet,
    RetinaNetLoss,
    RetinaNetPostprocess,
)
from seesall.tasks.detection.roi_heads import (
    FastRCNNLoss,
    FastRCNNPostprocess,
    RoIHead,
    RoISampler,
    make_pooler,
)
from seesall.tasks.detection.rpn import RegionProposalNetwork, RPNHead, RPNLoss

ROI_BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


@dataclass(frozen=True)
class Detector:
    """A detection model with its loss and post-processing.

    ``model(images, targets)`` for two-stage models chooses RoIs against the targets;
    ``losses`` and ``predict`` hide that difference from the training loop.
    """

    model: nn.Module
    criterion: Callable[[Any, Sequence[Objects]], dict[str, Tensor]]
    postprocess: Callable[[Any, Sequence[tuple[int, int]]], list[Objects]]

    @property
    def two_stage(self) -> bool:
        return isinstance(self.model, FasterRCNN)

    def losses(self, images: Tensor, targets: Sequence[Objects],
               hard_negatives: Sequence[Tensor] | None = None) -> dict[str, Tensor]:
        """Loss terms of a batch (images Tensor[B, 3, H, W] uint8)."""
        if self.two_stage:
            out = self.model(images, targets, hard_negatives)
        else:
            out = self.model(images)
        return self.criterion(out, targets)

    @torch.no_grad()
    def predict(self, images: Tensor, image_sizes: Sequence[tuple[int, int]]) -> list[Objects]:
        """Detections per image (the model should be in eval mode)."""
        return self.postprocess(self.model(images), image_sizes)


def build_retinanet(*, backbone: bb.Backbone, num_classes: int, fpn_channels: int,
                    num_convs: int, anchor_base: float = 4.0, cls_loss: ClsLoss = "focal",
                    box_loss: Literal["smooth_l1", "giou"] = "smooth_l1") -> Detector:
    """RetinaNet on P3-P7 of an FPN over c3-c5 of ``backbone``."""
    specs = [s for s in backbone.feature_specs if s.name in ("c3", "c4", "c5")]
    neck = FPN(in_specs=specs, out_channels=fpn_channels, extra="p6p7")
    anchors = AnchorGenerator(strides=[s.stride for s in neck.feature_specs],
                              base_size=anchor_base)
    head = RetinaHead(in_channels=fpn_channels, num_anchors=anchors.num_anchors_per_location,
                      num_classes=num_classes, num_convs=num_convs)
    coder = BoxCoder()
    model = RetinaNet(backbone=backbone, neck=neck, head=head, anchor_generator=anchors)
    return Detector(model, RetinaNetLoss(box_coder=coder, cls_loss=cls_loss, box_loss=box_loss),
                    RetinaNetPostprocess(box_coder=coder))


def build_faster_rcnn(*, backbone: bb.Backbone, num_classes: int, fpn_channels: int,
                      hidden: int, in_features: Sequence[str] = ("c2", "c3", "c4", "c5"),
                      anchor_base: float = 4.0, roi_pooler: Literal["align", "pool"] = "align",
                      post_nms_top_k: tuple[int, int] = (1000, 300),
                      roi_batch_size: int = 512) -> Detector:
    """Faster R-CNN with an FPN (plus a max-pooled extra level for the RPN)."""
    specs = [s for s in backbone.feature_specs if s.name in in_features]
    neck = FPN(in_specs=specs, out_channels=fpn_channels, extra="maxpool")
    anchors = AnchorGenerator(strides=[s.stride for s in neck.feature_specs],
                              base_size=anchor_base)
    rpn = RegionProposalNetwork(
        head=RPNHead(in_channels=fpn_channels, num_anchors=anchors.num_anchors_per_location),
        anchor_generator=anchors, box_coder=BoxCoder(), post_nms_top_k=post_nms_top_k)
    roi_specs = neck.feature_specs[:-1]  # the pooled levels: all but the extra one
    head = RoIHead(pooler=make_pooler(roi_pooler, roi_specs), in_channels=fpn_channels,
                   resolution=7, hidden=hidden, num_classes=num_classes)
    model = FasterRCNN(backbone=backbone, neck=neck, rpn=rpn, roi_head=head,
                       roi_sampler=RoISampler(batch_size=roi_batch_size), roi_levels=[s.name for s in roi_specs])
    roi_coder = BoxCoder(ROI_BOX_WEIGHTS)
    loss = FasterRCNNLoss(rpn_loss=RPNLoss(box_coder=BoxCoder()),
                          roi_loss=FastRCNNLoss(box_coder=roi_coder))
    post = FasterRCNNPostprocess(roi_postprocess=FastRCNNPostprocess(box_coder=roi_coder))
    return Detector(model, loss, post)


def faster_rcnn_small(*, num_classes: int, **kw: Any) -> Detector:
    """FastNet (CPU) backbone, FPN 64 on c3-c5, 256-wide box head, world-sized anchors,
    128 RoIs per image (RoIAlign's backward dominates a CPU step)."""
    backbone = bb.fastnet(out_features=("c3", "c4", "c5"))
    kw = {"anchor_base": 2.0, "roi_batch_size": 128, **kw}
    return build_faster_rcnn(backbone=backbone, num_classes=num_classes, fpn_channels=64,
                             hidden=256, in_features=("c3", "c4", "c5"), **kw)


def faster_rcnn_r18(*, num_classes: int, **kw: Any) -> Detector:
    return build_faster_rcnn(backbone=bb.resnet18(), num_classes=num_classes, fpn_channels=128,
                             hidden=512, **kw)


def faster_rcnn_r50(*, num_classes: int, **kw: Any) -> Detector:
    return build_faster_rcnn(backbone=bb.resnet50(), num_classes=num_classes, fpn_channels=256,
                             hidden=1024, **kw)


def faster_rcnn_mobilenet_v3(*, num_classes: int, **kw: Any) -> Detector:
    backbone = bb.mobilenet_v3_large(out_features=("c4", "c5"))
    return build_faster_rcnn(backbone=backbone, num_classes=num_classes, fpn_channels=256,
                             hidden=1024, in_features=("c4", "c5"), **kw)


def retinanet_small(*, num_classes: int, **kw: Any) -> Detector:
    """FastNet backbone, FPN 64, two convs per subnet, world-sized anchors."""
    kw = {"anchor_base": 2.0, **kw}
    return build_retinanet(backbone=bb.fastnet(out_features=("c3", "c4", "c5")),
                           num_classes=num_classes, fpn_channels=64, num_convs=2, **kw)


def retinanet_r18(*, num_classes: int, **kw: Any) -> Detector:
    return build_retinanet(backbone=bb.resnet18(out_features=("c3", "c4", "c5")),
                           num_classes=num_classes, fpn_channels=128, num_convs=4, **kw)


def retinanet_r50(*, num_classes: int, **kw: Any) -> Detector:
    return build_retinanet(backbone=bb.resnet50(out_features=("c3", "c4", "c5")),
                           num_classes=num_classes, fpn_channels=256, num_convs=4, **kw)


DETECTORS: dict[str, Callable[..., Detector]] = {
    "faster_rcnn_small": faster_rcnn_small,
    "faster_rcnn_r18": faster_rcnn_r18,
    "faster_rcnn_r50": faster_rcnn_r50,
    "faster_rcnn_mobilenet_v3": faster_rcnn_mobilenet_v3,
    "retinanet_small": retinanet_small,
    "retinanet_r18": retinanet_r18,
    "retinanet_r50": retinanet_r50,
}
"""Model name -> factory(*, num_classes, **options)."""
