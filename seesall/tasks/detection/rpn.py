"""Region Proposal Network: objectness + deltas on every anchor, then sort / NMS / top-K.

``RegionProposalNetwork`` returns raw outputs and the proposals (computed without
gradient); ``RPNLoss`` matches anchors (IoU >= 0.7 positive, < 0.3 negative, best
anchor of every box positive), samples 256 anchors per image with at most half
positive, and returns {"loss_objectness", "loss_rpn_box"}.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.ops.anchors import AnchorGenerator
from seesall.ops.boxes import BoxCoder, batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes
from seesall.ops.matching import Matcher, balanced_sample
from seesall.structures import Objects


@dataclass
class RPNOutput:
    """Attributes:
    objectness: Tensor[B, N] logits, N = anchors of all levels.
    deltas: Tensor[B, N, 4].
    anchors: Tensor[N, 4] xyxy (shared by the padded batch).
    anchors_per_level: anchors of each level.
    proposals: one Tensor[P_i, 4] xyxy per image (no gradient).
    """

    objectness: Tensor
    deltas: Tensor
    anchors: Tensor
    anchors_per_level: list[int]
    proposals: list[Tensor]


class RPNHead(nn.Module):
    """3x3 conv + ReLU, then 1x1 convs for A objectness logits and 4A deltas; shared by levels."""

    def __init__(self, *, in_channels: int, num_anchors: int) -> None:
        super().__init__()
        self.num_anchors = num_anchors
        self.conv = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.cls = nn.Conv2d(in_channels, num_anchors, 1)
        self.box = nn.Conv2d(in_channels, num_anchors * 4, 1)
        for m in (self.conv, self.cls, self.box):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """One Tensor[B, C, H_l, W_l] per level -> (Tensor[B, N], Tensor[B, N, 4])."""
        obj, box = [], []
        for x in features:
            b, _, h, w = x.shape
            t = F.relu(self.conv(x))
            obj.append(self.cls(t).permute(0, 2, 3, 1).reshape(b, -1))  # (B, HWA)
            d = self.box(t).view(b, self.num_anchors, 4, h, w)
            box.append(d.permute(0, 3, 4, 1, 2).reshape(b, -1, 4))  # (B, HWA, 4)
        return torch.cat(obj, dim=1), torch.cat(box, dim=1)


class RegionProposalNetwork(nn.Module):
    """RPN head + anchors + proposal selection.

    Args:
        head: the RPN head.
        anchor_generator: anchors of the pyramid levels the head sees.
        box_coder: deltas' coding (weights 1, 1, 1, 1).
        pre_nms_top_k: (train, test) best anchors kept per level before NMS.
        post_nms_top_k: (train, test) proposals kept per image after NMS.
        nms_thresh: IoU of the proposal NMS (within each level).
    """

    def __init__(self, *, head: RPNHead, anchor_generator: AnchorGenerator, box_coder: BoxCoder,
                 pre_nms_top_k: tuple[int, int] = (2000, 1000),
                 post_nms_top_k: tuple[int, int] = (1000, 300), nms_thresh: float = 0.7,
                 min_size: float = 1e-3) -> None:
        super().__init__()
        if head.num_anchors != anchor_generator.num_anchors_per_location:
            raise ValueError(f"RPN head expects {head.num_anchors} anchors per location, the "
                             f"generator makes {anchor_generator.num_anchors_per_location}")
        self.head, self.anchor_generator, self.box_coder = head, anchor_generator, box_coder
        self.pre_nms_top_k, self.post_nms_top_k = pre_nms_top_k, post_nms_top_k
        self.nms_thresh, self.min_size = nms_thresh, min_size

    def forward(self, features: Sequence[Tensor],
                image_sizes: Sequence[tuple[int, int]]) -> RPNOutput:
        objectness, deltas = self.head(features)
        anchors = self.anchor_generator([tuple(f.shape[-2:]) for f in features],
                                        objectness.device)
        counts = [len(a) for a in anchors]
        anchors = torch.cat(anchors)
        proposals = [self._propose(o.detach(), d.detach(), anchors, counts, size)
                     for o, d, size in zip(objectness, deltas, image_sizes, strict=True)]
        return RPNOutput(objectness, deltas, anchors, counts, proposals)

    def _propose(self, obj: Tensor, deltas: Tensor, anchors: Tensor, counts: list[int],
                 size: tuple[int, int]) -> Tensor:
        """Proposals of one image: per-level top-K, decode, clip, NMS per level, top-K."""
        pre = self.pre_nms_top_k[0 if self.training else 1]
        post = self.post_nms_top_k[0 if self.training else 1]
        idx, levels, start = [], [], 0
        for lvl, n in enumerate(counts):
            top = obj[start:start + n].topk(min(pre, n)).indices + start
            idx.append(top)
            levels.append(torch.full_like(top, lvl))
            start += n
        idx, levels = torch.cat(idx), torch.cat(levels)
        boxes = clip_boxes_to_image(self.box_coder.decode(deltas[idx], anchors[idx]), size)
        scores = obj[idx]
        keep = remove_small_boxes(boxes, self.min_size)
        boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
        keep = batched_nms(boxes, scores, levels, self.nms_thresh)
        keep = keep[scores[keep].argsort(descending=True)][:post]
        return boxes[keep]


class RPNLoss:
    """Objectness BCE and smooth-L1 deltas on ``batch_size`` sampled anchors per image."""

    def __init__(self, *, box_coder: BoxCoder, batch_size: int = 256,
                 positive_fraction: float = 0.5, matcher: Matcher | None = None) -> None:
        self.box_coder, self.batch_size = box_coder, batch_size
        self.positive_fraction = positive_fraction
        self.matcher = matcher or Matcher(high=0.7, low=0.3, allow_low_quality=True)

    def __call__(self, out: RPNOutput, targets: Sequence[Objects]) -> dict[str, Tensor]:
        obj_terms, box_terms, sampled = [], [], 0
        for obj, deltas, tgt in zip(out.objectness, out.deltas, targets, strict=True):
            gt = tgt.boxes.as_subclass(Tensor).to(obj.device)
            matches = self.matcher(box_iou(gt, out.anchors))  # (N,)
            labels = torch.where(matches >= 0, 1, torch.where(matches == -1, 0, -1))
            pos, neg = balanced_sample(labels, batch_size=self.batch_size,
                                       positive_fraction=self.positive_fraction)
            chosen = pos | neg
            obj_terms.append(F.binary_cross_entropy_with_logits(
                obj[chosen], pos[chosen].float(), reduction="sum"))
            if pos.any():
                target = self.box_coder.encode(gt[matches[pos]], out.anchors[pos])
                box_terms.append(F.smooth_l1_loss(deltas[pos], target, beta=1 / 9,
                                                  reduction="sum"))
            sampled += int(chosen.sum())
        norm = max(sampled, 1)
        zero = out.deltas.sum() * 0
        return {"loss_objectness": sum(obj_terms, zero) / norm,
                "loss_rpn_box": sum(box_terms, zero) / norm}
