"""RetinaNet (Lin et al. 2017): backbone + FPN (P3-P7) + class and box subnets shared by levels.

Three separate parts, as everywhere in seesall:
    * ``RetinaNet`` (the model) returns raw per-anchor outputs, the same in train and eval;
    * ``RetinaNetLoss`` matches anchors to ground truth and returns {"loss_cls", "loss_box"};
    * ``RetinaNetPostprocess`` turns raw outputs into ``Objects`` (per-level top-K, NMS).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.backbones import Backbone, normalize_image
from seesall.nn.fpn import FPN
from seesall.ops.anchors import AnchorGenerator
from seesall.ops.boxes import BoxCoder, box_iou, generalized_box_iou_loss
from seesall.ops.matching import Matcher
from seesall.structures import Objects
from seesall.tasks.detection.common import detections_to_objects, select_top_per_level
from seesall.tasks.detection.losses import ClsLoss, dense_classification_loss


@dataclass
class DenseOutput:
    """Raw outputs of a dense (one-stage) detector for a padded batch.

    Attributes:
        cls_logits: Tensor[B, N, K], N = all anchors of all levels, K classes.
        box_deltas: Tensor[B, N, 4] (dx, dy, dw, dh) relative to ``anchors``.
        anchors: Tensor[N, 4] xyxy, shared by the batch (images are padded to one size).
        anchors_per_level: anchors of each level (they sum to N).
    """

    cls_logits: Tensor
    box_deltas: Tensor
    anchors: Tensor
    anchors_per_level: list[int]


def _subnet(channels: int, num_convs: int, out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(channels, channels, 3, padding=1),
                   nn.GroupNorm(min(32, channels // 4), channels), nn.ReLU(inplace=True)]
    layers.append(nn.Conv2d(channels, out, 3, padding=1))
    for m in layers:
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers)


class RetinaHead(nn.Module):
    """Class subnet (K x A outputs) and box subnet (4 x A), shared across levels.

    Args:
        in_channels: channels of every pyramid level.
        num_anchors: anchors per location A.
        num_classes: K (no background class: sigmoid per class).
        num_convs: 3x3 conv + GN + ReLU layers before each output conv (4 in the paper).
        prior_prob: initial foreground probability pi; class bias = -log((1 - pi) / pi).
    """

    def __init__(self, *, in_channels: int, num_anchors: int, num_classes: int,
                 num_convs: int = 4, prior_prob: float = 0.01) -> None:
        super().__init__()
        self.num_anchors, self.num_classes = num_anchors, num_classes
        self.cls_subnet = _subnet(in_channels, num_convs, num_anchors * num_classes)
        self.box_subnet = _subnet(in_channels, num_convs, num_anchors * 4)
        nn.init.constant_(self.cls_subnet[-1].bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """features: one Tensor[B, C, H_l, W_l] per level -> (Tensor[B, N, K], Tensor[B, N, 4])."""
        cls, box = [], []
        for x in features:
            b, _, h, w = x.shape
            c = self.cls_subnet(x).view(b, self.num_anchors, self.num_classes, h, w)
            cls.append(c.permute(0, 3, 4, 1, 2).reshape(b, -1, self.num_classes))  # (B, HWA, K)
            d = self.box_subnet(x).view(b, self.num_anchors, 4, h, w)
            box.append(d.permute(0, 3, 4, 1, 2).reshape(b, -1, 4))  # (B, HWA, 4)
        return torch.cat(cls, dim=1), torch.cat(box, dim=1)


class RetinaNet(nn.Module):
    """Backbone -> FPN -> RetinaHead, with anchors on every pyramid level.

    ``forward(images: Tensor[B, 3, H, W] uint8) -> DenseOutput``.
    """

    def __init__(self, *, backbone: Backbone, neck: FPN, head: RetinaHead,
                 anchor_generator: AnchorGenerator) -> None:
        super().__init__()
        if [s.stride for s in neck.feature_specs] != anchor_generator.strides:
            raise ValueError(f"anchor strides {anchor_generator.strides} differ from the FPN "
                             f"strides {[s.stride for s in neck.feature_specs]}")
        if head.num_anchors != anchor_generator.num_anchors_per_location:
            raise ValueError(f"head expects {head.num_anchors} anchors per location, the "
                             f"generator makes {anchor_generator.num_anchors_per_location}")
        self.backbone, self.neck, self.head = backbone, neck, head
        self.anchor_generator = anchor_generator

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, images: Tensor) -> DenseOutput:
        feats = list(self.neck(self.backbone(normalize_image(images))).values())
        cls_logits, box_deltas = self.head(feats)
        anchors = self.anchor_generator([tuple(f.shape[-2:]) for f in feats], images.device)
        return DenseOutput(cls_logits, box_deltas, torch.cat(anchors), [len(a) for a in anchors])


class RetinaNetLoss:
    """Matches anchors (IoU >= 0.5 positive, < 0.4 negative, in between ignored).

    Args:
        box_coder: the deltas' coding.
        cls_loss: "focal" (default), "ce" or "ohem".
        box_loss: "smooth_l1" on deltas or "giou" on decoded boxes.
        alpha, gamma: focal loss parameters.
        neg_pos_ratio: negatives per positive for OHEM.
    """

    def __init__(self, *, box_coder: BoxCoder, cls_loss: ClsLoss = "focal",
                 box_loss: Literal["smooth_l1", "giou"] = "smooth_l1", alpha: float = 0.25,
                 gamma: float = 2.0, neg_pos_ratio: float = 3.0,
                 matcher: Matcher | None = None) -> None:
        if box_loss not in ("smooth_l1", "giou"):
            raise ValueError(f"box_loss must be smooth_l1 or giou, got {box_loss!r}")
        self.box_coder, self.cls_loss, self.box_loss = box_coder, cls_loss, box_loss
        self.alpha, self.gamma, self.neg_pos_ratio = alpha, gamma, neg_pos_ratio
        self.matcher = matcher or Matcher(high=0.5, low=0.4, allow_low_quality=True)

    def __call__(self, out: DenseOutput, targets: Sequence[Objects]) -> dict[str, Tensor]:
        cls_sum = out.cls_logits.new_zeros(())
        box_sum = out.cls_logits.new_zeros(())
        num_pos = 0
        for logits, deltas, tgt in zip(out.cls_logits, out.box_deltas, targets, strict=True):
            gt_boxes = tgt.boxes.as_subclass(Tensor).to(logits.device)
            matches = self.matcher(box_iou(gt_boxes, out.anchors))  # (N,)
            pos = matches >= 0
            onehot = torch.zeros_like(logits)  # (N, K)
            onehot[pos, tgt.labels.to(logits.device)[matches[pos]]] = 1.0
            cls_sum = cls_sum + dense_classification_loss(
                logits, onehot, matches != -2, kind=self.cls_loss, alpha=self.alpha,
                gamma=self.gamma, neg_pos_ratio=self.neg_pos_ratio)
            box_sum = box_sum + self._box_loss(deltas[pos], out.anchors[pos],
                                               gt_boxes[matches[pos]])
            num_pos += int(pos.sum())
        norm = max(num_pos, 1)
        return {"loss_cls": cls_sum / norm, "loss_box": box_sum / norm}

    def _box_loss(self, deltas: Tensor, anchors: Tensor, gt: Tensor) -> Tensor:
        if deltas.numel() == 0:
            return deltas.sum()
        if self.box_loss == "giou":
            boxes = self.box_coder.decode(deltas, anchors)
            return generalized_box_iou_loss(boxes, gt, reduction="sum")
        target = self.box_coder.encode(gt, anchors)
        return F.smooth_l1_loss(deltas, target, beta=1.0 / 9, reduction="sum")


class RetinaNetPostprocess:
    """Per level: scores > ``score_thresh``, top-K; then class-wise NMS, best ``max_detections``."""

    def __init__(self, *, box_coder: BoxCoder, score_thresh: float = 0.05,
                 topk_per_level: int = 1000, nms_thresh: float = 0.5,
                 max_detections: int = 100) -> None:
        self.box_coder = box_coder
        self.score_thresh, self.topk_per_level = score_thresh, topk_per_level
        self.nms_thresh, self.max_detections = nms_thresh, max_detections

    @torch.no_grad()
    def __call__(self, out: DenseOutput, image_sizes: Sequence[tuple[int, int]]) -> list[Objects]:
        results = []
        k = out.cls_logits.shape[-1]
        for logits, deltas, size in zip(out.cls_logits, out.box_deltas, image_sizes, strict=True):
            scores = torch.sigmoid(logits).flatten()  # (N * K,)
            idx = select_top_per_level(scores, [n * k for n in out.anchors_per_level],
                                       self.topk_per_level, self.score_thresh)
            anchor_idx, labels = idx // k, idx % k
            boxes = self.box_coder.decode(deltas[anchor_idx], out.anchors[anchor_idx])
            results.append(detections_to_objects(boxes, scores[idx], labels, size,
                                                 self.nms_thresh, self.max_detections))
        return results
