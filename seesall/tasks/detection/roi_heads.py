"""The second stage of Faster R-CNN: RoI pooling, a box head, per-class refinement.

* ``make_pooler("align" | "pool")``: torchvision's ``MultiScaleRoIAlign`` or a
  multi-scale ``roi_pool`` with the same FPN level rule (Eq. 1 of the FPN paper).
* ``RoISampler``: matches proposals (+ ground truth + optional hard negatives) to
  ground truth and samples 512 per image with at most 1/4 positives.
* ``RoIHead``: pooled features -> two FC layers -> class logits (K + 1, background
  = 0) and per-class deltas (4 (K + 1)).
* ``FastRCNNLoss`` and ``FastRCNNPostprocess``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign, roi_pool
from torchvision.ops.poolers import LevelMapper

from seesall.nn.backbones import FeatureSpec
from seesall.ops.boxes import BoxCoder, box_iou
from seesall.ops.matching import Matcher, balanced_sample
from seesall.structures import Objects
from seesall.tasks.detection.common import detections_to_objects


class MultiScaleRoIPool(nn.Module):
    """RoI max pooling (Fast R-CNN) on the FPN level chosen for each box's size.

    Same interface as ``torchvision.ops.MultiScaleRoIAlign``:
    ``forward(features: dict, boxes: list[Tensor[R_i, 4]], image_shapes) -> Tensor[R, C, S, S]``.
    """

    def __init__(self, *, featmap_names: Sequence[str], strides: Sequence[int],
                 output_size: int) -> None:
        super().__init__()
        self.featmap_names, self.strides = list(featmap_names), list(strides)
        self.output_size = output_size
        k = [s.bit_length() - 1 for s in self.strides]
        self.mapper = LevelMapper(k[0], k[-1])

    def forward(self, features: dict[str, Tensor], boxes: list[Tensor],
                image_shapes: Sequence[tuple[int, int]]) -> Tensor:
        feats = [features[n] for n in self.featmap_names]
        rois = torch.cat([torch.cat([torch.full_like(b[:, :1], i), b], dim=1)
                          for i, b in enumerate(boxes)])  # (R, 5): batch index, x1, y1, x2, y2
        levels = self.mapper(boxes) if len(feats) > 1 else torch.zeros(len(rois), dtype=torch.long)
        out = feats[0].new_zeros(len(rois), feats[0].shape[1], self.output_size, self.output_size)
        for lvl, (x, stride) in enumerate(zip(feats, self.strides, strict=True)):
            idx = torch.nonzero(levels == lvl).flatten()
            if idx.numel():
                out[idx] = roi_pool(x, rois[idx], self.output_size, 1.0 / stride)
        return out


def make_pooler(kind: Literal["align", "pool"], specs: Sequence[FeatureSpec],
                output_size: int = 7, sampling_ratio: int = 2) -> nn.Module:
    """RoIAlign (bilinear, no quantisation) or RoIPool (max, quantised) over FPN levels."""
    names = [s.name for s in specs]
    if kind == "align":
        return MultiScaleRoIAlign(names, output_size, sampling_ratio)
    if kind == "pool":
        return MultiScaleRoIPool(featmap_names=names, strides=[s.stride for s in specs],
                                 output_size=output_size)
    raise ValueError(f"roi pooler must be align or pool, got {kind!r}")


class RoIHead(nn.Module):
    """Pooler -> flatten -> FC-ReLU-FC-ReLU -> (class logits, per-class deltas).

    Args:
        pooler: ``make_pooler(...)``.
        in_channels: channels of the pooled features; resolution: their side.
        hidden: width of the two FC layers.
        num_classes: K object classes (the head predicts K + 1 with background 0).
    """

    def __init__(self, *, pooler: nn.Module, in_channels: int, resolution: int,
                 hidden: int, num_classes: int) -> None:
        super().__init__()
        self.pooler, self.num_classes = pooler, num_classes
        self.fc1 = nn.Linear(in_channels * resolution * resolution, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.cls_score = nn.Linear(hidden, num_classes + 1)
        self.bbox_pred = nn.Linear(hidden, 4 * (num_classes + 1))
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        for m in (self.cls_score, self.bbox_pred):
            nn.init.zeros_(m.bias)

    def forward(self, features: dict[str, Tensor], rois: list[Tensor],
                image_shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """rois: one Tensor[R_i, 4] per image -> (Tensor[R, K + 1], Tensor[R, 4 (K + 1)])."""
        x = self.pooler(features, rois, [image_shape] * len(rois))  # (R, C, S, S)
        x = F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))  # (R, hidden)
        return self.cls_score(x), self.bbox_pred(x)


class RoISampler:
    """Chooses the RoIs the box head trains on.

    Proposals are joined by the ground-truth boxes (and by ``hard_negatives``, boxes
    known to be false positives, used by bootstrapping); matched at IoU 0.5; then
    ``batch_size`` are sampled per image with at most ``positive_fraction`` positive.
    Hard negatives are always kept among the negatives.
    """

    def __init__(self, *, batch_size: int = 512, positive_fraction: float = 0.25,
                 matcher: Matcher | None = None) -> None:
        self.batch_size, self.positive_fraction = batch_size, positive_fraction
        self.matcher = matcher or Matcher(high=0.5, low=0.5, allow_low_quality=False)

    def __call__(self, proposals: Sequence[Tensor], targets: Sequence[Objects],
                 hard_negatives: Sequence[Tensor] | None = None
                 ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Returns per image (rois Tensor[R, 4], labels Tensor[R] with 0 = background and
        c + 1 for class c, matched gt boxes Tensor[R, 4])."""
        out_rois, out_labels, out_boxes = [], [], []
        for i, (props, tgt) in enumerate(zip(proposals, targets, strict=True)):
            gt = tgt.boxes.as_subclass(Tensor).to(props.device)
            hard = hard_negatives[i].to(props) if hard_negatives is not None else props[:0]
            rois = torch.cat([props, gt, hard])
            matches = self.matcher(box_iou(gt, rois))  # (R,)
            labels = torch.where(matches == -1, 0, -1)
            if len(gt):
                cls = tgt.labels.to(props.device)[matches.clamp(min=0)] + 1
                labels = torch.where(matches >= 0, cls, labels)
            pos, neg = balanced_sample(labels, batch_size=self.batch_size,
                                       positive_fraction=self.positive_fraction)
            is_hard = torch.zeros_like(neg)
            is_hard[len(props) + len(gt):] = True
            neg = neg | (is_hard & (labels == 0))
            keep = torch.nonzero(pos | neg).flatten()
            out_rois.append(rois[keep])
            out_labels.append(torch.where(pos[keep], labels[keep], 0))
            out_boxes.append(gt[matches[keep].clamp(min=0)] if len(gt) else rois[keep])
        return out_rois, out_labels, out_boxes


class FastRCNNLoss:
    """Cross-entropy over K + 1 classes and smooth-L1 on the true class's deltas."""

    def __init__(self, *, box_coder: BoxCoder) -> None:
        self.box_coder = box_coder

    def __call__(self, class_logits: Tensor, box_deltas: Tensor, rois: Sequence[Tensor],
                 labels: Sequence[Tensor], matched: Sequence[Tensor]) -> dict[str, Tensor]:
        labels_t = torch.cat(list(labels))  # (R,)
        loss_cls = F.cross_entropy(class_logits, labels_t)
        pos = torch.nonzero(labels_t > 0).flatten()
        deltas = box_deltas.view(len(labels_t), -1, 4)[pos, labels_t[pos]]  # (P, 4)
        target = self.box_coder.encode(torch.cat(list(matched))[pos], torch.cat(list(rois))[pos])
        loss_box = F.smooth_l1_loss(deltas, target, beta=1 / 9, reduction="sum")
        return {"loss_cls": loss_cls, "loss_box": loss_box / max(len(labels_t), 1)}


class FastRCNNPostprocess:
    """Softmax, per-class boxes, score threshold, class-wise NMS, best ``max_detections``."""

    def __init__(self, *, box_coder: BoxCoder, score_thresh: float = 0.05,
                 nms_thresh: float = 0.5, max_detections: int = 100) -> None:
        self.box_coder, self.score_thresh = box_coder, score_thresh
        self.nms_thresh, self.max_detections = nms_thresh, max_detections

    @torch.no_grad()
    def __call__(self, class_logits: Tensor, box_deltas: Tensor, rois: Sequence[Tensor],
                 image_sizes: Sequence[tuple[int, int]]) -> list[Objects]:
        results, start = [], 0
        for r, size in zip(rois, image_sizes, strict=True):
            logits = class_logits[start:start + len(r)]
            deltas = box_deltas[start:start + len(r)]
            start += len(r)
            scores = F.softmax(logits, dim=-1)[:, 1:]  # (R, K)
            boxes = self.box_coder.decode(deltas, r).view(len(r), -1, 4)[:, 1:]  # (R, K, 4)
            keep = scores > self.score_thresh
            labels = torch.nonzero(keep)[:, 1]
            results.append(detections_to_objects(boxes[keep], scores[keep], labels, size,
                                                 self.nms_thresh, self.max_detections))
        return results
