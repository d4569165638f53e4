"""Faster R-CNN (Ren et al. 2015) with FPN: backbone, neck, RPN and RoI head as parts.

Design choice for training. The RoI head must train on a *sample* of the
proposals (matched to the ground truth), while at test time it scores all of
them. ``FasterRCNN.forward(images, targets=None)`` therefore takes the targets
only to choose which RoIs the head scores: with targets, the ``RoISampler``
picks them and records their labels and matched boxes in the output; without,
every proposal is scored. The return type is the same ``FasterRCNNOutput`` in
both cases (raw logits and deltas, never losses or final boxes); the losses
(``FasterRCNNLoss``) and the post-processing (``FasterRCNNPostprocess``) are
separate and read what they need from that output. Train/eval mode only changes
the RPN's top-K sizes and the normalisation layers, as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from seesall.nn.backbones import Backbone, normalize_image
from seesall.nn.fpn import FPN
from seesall.structures import Objects
from seesall.tasks.detection.roi_heads import (
    FastRCNNLoss,
    FastRCNNPostprocess,
    RoIHead,
    RoISampler,
)
from seesall.tasks.detection.rpn import RegionProposalNetwork, RPNLoss, RPNOutput


@dataclass
class FasterRCNNOutput:
    """Raw outputs of Faster R-CNN for a padded batch.

    Attributes:
        rpn: the RPN's raw outputs and proposals.
        rois: the RoIs scored by the head, one Tensor[R_i, 4] xyxy per image.
        class_logits: Tensor[R, K + 1] (R = sum R_i; column 0 = background).
        box_deltas: Tensor[R, 4 (K + 1)] per-class deltas relative to the RoIs.
        roi_labels: per image Tensor[R_i] (0 = background, c + 1 = class c) when the
            RoIs were sampled against targets, else None.
        roi_matched: per image Tensor[R_i, 4], the ground-truth box each RoI was matched
            to (when sampled), else None.
    """

    rpn: RPNOutput
    rois: list[Tensor]
    class_logits: Tensor
    box_deltas: Tensor
    roi_labels: list[Tensor] | None = None
    roi_matched: list[Tensor] | None = None


class FasterRCNN(nn.Module):
    """Backbone -> FPN -> RPN -> RoI head.

    Args:
        backbone: any seesall backbone.
        neck: FPN over (some of) the backbone's maps; the RPN sees all its levels.
        rpn: the region proposal network.
        roi_head: pooler + box head; it pools from ``roi_levels`` of the neck.
        roi_sampler: chooses RoIs during training.
        roi_levels: names of the neck levels the RoI pooler reads (e.g. p2..p5).
    """

    def __init__(self, *, backbone: Backbone, neck: FPN, rpn: RegionProposalNetwork,
                 roi_head: RoIHead, roi_sampler: RoISampler, roi_levels: Sequence[str]) -> None:
        super().__init__()
        names = [s.name for s in neck.feature_specs]
        if [s.stride for s in neck.feature_specs] != rpn.anchor_generator.strides:
            raise ValueError(f"RPN anchor strides {rpn.anchor_generator.strides} differ from "
                             f"the FPN strides {[s.stride for s in neck.feature_specs]}")
        if not set(roi_levels) <= set(names):
            raise ValueError(f"roi_levels {list(roi_levels)} are not all FPN levels {names}")
        self.backbone, self.neck, self.rpn, self.roi_head = backbone, neck, rpn, roi_head
        self.roi_sampler, self.roi_levels = roi_sampler, list(roi_levels)

    @property
    def num_classes(self) -> int:
        return self.roi_head.num_classes

    def forward(self, images: Tensor, targets: Sequence[Objects] | None = None,
                hard_negatives: Sequence[Tensor] | None = None) -> FasterRCNNOutput:
        """Raw outputs.

        Args:
            images: Tensor[B, 3, H, W] uint8 (padded batch).
            targets: ground truth per image; when given, the RoI head scores a sample of
                proposals chosen against it (training), else all proposals.
            hard_negatives: per image Tensor[M_i, 4] boxes known to be false positives,
                always trained on as background (bootstrapping); needs ``targets``.
        """
        size = (int(images.shape[-2]), int(images.shape[-1]))
        feats = self.neck(self.backbone(normalize_image(images)))
        rpn_out = self.rpn(list(feats.values()), [size] * len(images))
        labels = matched = None
        rois = rpn_out.proposals
        if targets is not None:
            rois, labels, matched = self.roi_sampler(rois, targets, hard_negatives)
        elif hard_negatives is not None:
            raise ValueError("hard_negatives need targets")
        pooled_feats = {n: feats[n] for n in self.roi_levels}
        class_logits, box_deltas = self.roi_head(pooled_feats, rois, size)
        return FasterRCNNOutput(rpn_out, rois, class_logits, box_deltas, labels, matched)


class FasterRCNNLoss:
    """RPN losses + Fast R-CNN losses: {loss_objectness, loss_rpn_box, loss_cls, loss_box}."""

    def __init__(self, *, rpn_loss: RPNLoss, roi_loss: FastRCNNLoss) -> None:
        self.rpn_loss, self.roi_loss = rpn_loss, roi_loss

    def __call__(self, out: FasterRCNNOutput, targets: Sequence[Objects]) -> dict[str, Tensor]:
        if out.roi_labels is None or out.roi_matched is None:
            raise ValueError("FasterRCNNLoss needs outputs computed with targets "
                             "(model(images, targets)) so that the RoIs were sampled")
        losses = self.rpn_loss(out.rpn, targets)
        losses.update(self.roi_loss(out.class_logits, out.box_deltas, out.rois,
                                    out.roi_labels, out.roi_matched))
        return losses


class FasterRCNNPostprocess:
    """Detections per image from ``FasterRCNNOutput`` (wraps ``FastRCNNPostprocess``)."""

    def __init__(self, *, roi_postprocess: FastRCNNPostprocess) -> None:
        self.roi_postprocess = roi_postprocess

    def __call__(self, out: FasterRCNNOutput,
                 image_sizes: Sequence[tuple[int, int]]) -> list[Objects]:
        return self.roi_postprocess(out.class_logits, out.box_deltas, out.rois, image_sizes)
