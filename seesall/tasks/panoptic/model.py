"""Panoptic FPN (Kirillov, Girshick, He, Dollár, CVPR 2019): Mask R-CNN and a semantic
segmentation branch on the same FPN, trained jointly, merged into one panoptic map.

* instance branch: the instance task's Mask R-CNN (on the detection task's Faster R-CNN)
  unchanged; it runs the backbone and the FPN;
* semantic branch: :class:`SemanticFPNHead` on the FPN levels the RoI heads pool from
  (P2–P5), predicting the stuff classes + one "other" class for thing pixels;
* loss: L = L_cls + L_box + L_mask (+ the RPN's) + λ_s · L_sem, with L_sem the per-pixel
  cross-entropy over valid pixels (ignore index skipped, optional class weights);
  λ_s = 0.5 by default (detectron2's Panoptic FPN setting);
* post-processing: the instance detections (masks pasted) and the semantic arg-max go
  through :func:`merge_panoptic` (things by score with an overlap threshold, then stuff
  with a minimum area, the paper's heuristic).

The semantic branch reads the FPN maps that Mask R-CNN computes in its own forward: a
forward hook on the detector's neck hands them over (registered for the call only), so
the backbone and the FPN run once and the Mask R-CNN code is reused as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn import backbones as bb
from seesall.structures import IGNORE_INDEX, Objects
from seesall.tasks.detection.models import build_faster_rcnn
from seesall.tasks.instance.mask_rcnn import MaskRCNN, MaskRCNNLoss, MaskRCNNOutput, MaskRCNNPostprocess
from seesall.tasks.instance.models import build_mask_rcnn
from seesall.tasks.panoptic.merge import MergeConfig, Segment, merge_panoptic
from seesall.tasks.panoptic.semantic_head import SemanticFPNHead


@dataclass
class PanopticFPNOutput:
    """Raw outputs: ``instance`` (Mask R-CNN's) and ``semantic`` logits Tensor[B, S + 1,
    H, W] at the padded input size (S stuff classes, channel S = "other")."""

    instance: MaskRCNNOutput
    semantic: Tensor


class PanopticFPN(nn.Module):
    """Args:
        mask_rcnn: the instance branch (its detector's neck feeds the semantic branch).
        semantic_head: reads the neck levels it was built for.
    """

    def __init__(self, *, mask_rcnn: MaskRCNN, semantic_head: SemanticFPNHead) -> None:
        super().__init__()
        names = [s.name for s in mask_rcnn.detector.neck.feature_specs]
        if not set(semantic_head.names) <= set(names):
            raise ValueError(f"semantic head levels {semantic_head.names} are not all FPN "
                             f"levels {names}")
        self.mask_rcnn, self.semantic_head = mask_rcnn, semantic_head

    def forward(self, images: Tensor, targets: Sequence[Objects] | None = None,
                image_sizes: Sequence[tuple[int, int]] | None = None) -> PanopticFPNOutput:
        """images: Tensor[B, 3, H, W] uint8 (padded, H and W divisible by the largest FPN
        stride); targets: ground truth (training: they choose the RoIs); image_sizes:
        unpadded (H, W) per image (inference)."""
        feats: dict[str, Tensor] = {}

        def keep(_module: nn.Module, _inputs: Any, output: dict[str, Tensor]) -> None:
            feats.update(output)

        handle = self.mask_rcnn.detector.neck.register_forward_hook(keep)
        try:
            instance = self.mask_rcnn(images, targets, image_sizes)
        finally:
            handle.remove()
        return PanopticFPNOutput(instance, self.semantic_head(feats))


def semantic_targets(semantic: Tensor, num_stuff: int) -> Tensor:
    """World/COCO-style semantic ids (stuff < num_stuff, things >= num_stuff, IGNORE_INDEX)
    -> the semantic branch's classes: stuff kept, every thing -> ``num_stuff`` ("other"),
    IGNORE_INDEX kept. Tensor[..., H, W] int64 -> same shape."""
    thing = (semantic >= num_stuff) & (semantic != IGNORE_INDEX)
    return torch.where(thing, torch.full_like(semantic, num_stuff), semantic)


class PanopticFPNLoss:
    """Mask R-CNN's losses + ``loss_semantic`` = λ_s · cross-entropy over valid pixels.

    Args:
        instance_loss: the Mask R-CNN loss. num_stuff: S.
        semantic_weight: λ_s. class_weights: Tensor[S + 1] or None.
    """

    def __init__(self, *, instance_loss: MaskRCNNLoss, num_stuff: int,
                 semantic_weight: float = 0.5, class_weights: Tensor | None = None) -> None:
        if class_weights is not None and class_weights.shape != (num_stuff + 1,):
            raise ValueError(f"class_weights must have shape [{num_stuff + 1}], got "
                             f"{list(class_weights.shape)}")
        self.instance_loss, self.num_stuff = instance_loss, num_stuff
        self.semantic_weight, self.class_weights = semantic_weight, class_weights

    def __call__(self, out: PanopticFPNOutput, targets: Sequence[Objects], semantic: Tensor
                 ) -> dict[str, Tensor]:
        """semantic: Tensor[B, H, W] int64 ground truth at the padded size (IGNORE_INDEX
        in the padding)."""
        if semantic.shape != (out.semantic.shape[0], *out.semantic.shape[-2:]):
            raise ValueError(f"semantic targets of shape {list(semantic.shape)} for logits "
                             f"{list(out.semantic.shape)}")
        losses = self.instance_loss(out.instance, targets)
        target = semantic_targets(semantic.to(out.semantic.device), self.num_stuff)
        if bool((target != IGNORE_INDEX).any()):
            weight = None if self.class_weights is None else self.class_weights.to(out.semantic)
            ce = F.cross_entropy(out.semantic, target, weight=weight, ignore_index=IGNORE_INDEX)
        else:  # nothing to learn from; keep the graph connected
            ce = out.semantic.sum() * 0.0
        losses["loss_semantic"] = self.semantic_weight * ce
        return losses


@dataclass
class PanopticPrediction:
    """One image's prediction.

    Attributes:
        panoptic: Tensor[H, W] int64 segment ids (0 = void); segments: in id order.
        objects: the instance branch's detections (masks, boxes, labels, scores).
        semantic: Tensor[H, W] int64 arg-max of the semantic branch (S = "other").
    """

    panoptic: Tensor
    segments: list[Segment]
    objects: Objects
    semantic: Tensor


class PanopticFPNPostprocess:
    """Instance detections + semantic arg-max -> :class:`PanopticPrediction` per image."""

    def __init__(self, *, instance_post: MaskRCNNPostprocess, num_stuff: int,
                 merge: MergeConfig | None = None) -> None:
        self.instance_post, self.num_stuff = instance_post, num_stuff
        self.merge = merge if merge is not None else MergeConfig()

    @torch.no_grad()
    def __call__(self, out: PanopticFPNOutput, image_sizes: Sequence[tuple[int, int]]
                 ) -> list[PanopticPrediction]:
        objects = self.instance_post(out.instance, image_sizes)
        sem = out.semantic.argmax(dim=1).cpu()  # (B, H, W)
        results = []
        for objs, s, (h, w) in zip(objects, sem, image_sizes, strict=True):
            objs, s = objs.to("cpu"), s[:h, :w]
            masks = objs.masks.as_subclass(Tensor) if objs.masks is not None else \
                torch.zeros(len(objs), h, w, dtype=torch.bool)
            pan, segments = merge_panoptic(semantic=s, masks=masks, labels=objs.labels,
                                           scores=objs.scores, num_stuff=self.num_stuff,
                                           cfg=self.merge)
            results.append(PanopticPrediction(pan, segments, objs, s))
        return results


@dataclass
class PanopticSegmenter:
    """A panoptic model with its loss and post-processing (as DETR's ``build``)."""

    model: PanopticFPN
    criterion: PanopticFPNLoss
    postprocess: PanopticFPNPostprocess


def build_panoptic_fpn(*, backbone: bb.Backbone, num_things: int, num_stuff: int,
                       fpn_channels: int, hidden: int, mask_channels: int,
                       semantic_channels: int, semantic_weight: float = 0.5,
                       merge: MergeConfig | None = None, **det_kw: Any) -> PanopticSegmenter:
    """Panoptic FPN on c2–c5 of ``backbone`` (FPN P2–P5 + a max-pooled P6 for the RPN;
    the RoI heads and the semantic branch read P2–P5, so semantic logits come at 1/4)."""
    det = build_faster_rcnn(backbone=backbone, num_classes=num_things, fpn_channels=fpn_channels,
                            hidden=hidden, in_features=("c2", "c3", "c4", "c5"), **det_kw)
    seg = build_mask_rcnn(det, num_classes=num_things, channels=mask_channels)
    frcnn = det.model
    specs = [s for s in frcnn.neck.feature_specs if s.name in frcnn.roi_levels]
    head = SemanticFPNHead(in_specs=specs, num_classes=num_stuff + 1, channels=semantic_channels)
    return PanopticSegmenter(
        PanopticFPN(mask_rcnn=seg.model, semantic_head=head),
        PanopticFPNLoss(instance_loss=seg.criterion, num_stuff=num_stuff,
                        semantic_weight=semantic_weight),
        PanopticFPNPostprocess(instance_post=seg.postprocess, num_stuff=num_stuff, merge=merge))


def panoptic_fpn_small(*, num_things: int, num_stuff: int, **kw: Any) -> PanopticSegmenter:
    """FastNet c2–c5 + FPN 64, 256-wide box head, 4-conv 64-wide mask head, 64-wide
    semantic branch, world-sized anchors, 128 RoIs per image (CPU)."""
    kw = {"anchor_base": 2.0, "roi_batch_size": 128, **kw}
    return build_panoptic_fpn(backbone=bb.fastnet(), num_things=num_things, num_stuff=num_stuff,
                              fpn_channels=64, hidden=256, mask_channels=64,
                              semantic_channels=64, **kw)


def panoptic_fpn_r18(*, num_things: int, num_stuff: int, **kw: Any) -> PanopticSegmenter:
    """ResNet-18 + FPN 128, 512-wide box head, 128-wide mask head and semantic branch."""
    return build_panoptic_fpn(backbone=bb.resnet18(), num_things=num_things,
                              num_stuff=num_stuff, fpn_channels=128, hidden=512,
                              mask_channels=128, semantic_channels=128, **kw)


PANOPTIC_MODELS: dict[str, Callable[..., PanopticSegmenter]] = {
    "panoptic_fpn_small": panoptic_fpn_small,
    "panoptic_fpn_r18": panoptic_fpn_r18,
}
"""Model name -> factory(*, num_things, num_stuff, **options)."""
