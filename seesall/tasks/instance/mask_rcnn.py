"""Mask R-CNN (He et al. 2017): Faster R-CNN plus a mask head, and optionally a keypoint
head (Keypoint R-CNN), built from the detection task's parts.

The RoIs of the extra heads differ between training and inference:
* with targets, they are the sampled *positive* RoIs (each with its matched ground
  truth), as in the paper;
* without targets, they are the final detections. So ``forward`` runs the box
  post-processing as a stage of the cascade (as every Mask R-CNN does) and returns
  those detections in the output; the return type is ``MaskRCNNOutput`` either way
  (raw logits, never losses), and ``MaskRCNNLoss`` / ``MaskRCNNPostprocess`` are separate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torchvision import tv_tensors

from seesall.nn.backbones import normalize_image
from seesall.ops.boxes import box_iou
from seesall.structures import Objects
from seesall.tasks.detection.faster_rcnn import (
    FasterRCNN,
    FasterRCNNLoss,
    FasterRCNNOutput,
    FasterRCNNPostprocess,
)
from seesall.tasks.instance.mask_head import MaskHead, mask_loss, mask_targets, paste_masks
from seesall.tasks.keypoints.head import KeypointHead, decode_heatmaps, keypoint_loss


@dataclass
class MaskRCNNOutput:
    """Raw outputs.

    Attributes:
        det: the Faster R-CNN outputs.
        rois: per image Tensor[R_i, 4], the boxes the mask/keypoint heads saw.
        labels: per image Tensor[R_i] 0-based class of each of those boxes.
        gt_index: per image Tensor[R_i], the matched ground-truth object (training), or None.
        detections: per image Objects (boxes, labels, scores) when run without targets.
        mask_logits: Tensor[R, K, 28, 28] (R = Σ R_i) or None without a mask head.
        kp_select: per image Tensor[R_i] bool, RoIs given to the keypoint head.
        kp_logits: Tensor[R_kp, K_kp, 56, 56] for the selected RoIs, or None.
    """

    det: FasterRCNNOutput
    rois: list[Tensor]
    labels: list[Tensor]
    gt_index: list[Tensor] | None
    detections: list[Objects] | None
    mask_logits: Tensor | None
    kp_select: list[Tensor]
    kp_logits: Tensor | None


class MaskRCNN(nn.Module):
    """Args:
        detector: a Faster R-CNN (its backbone, neck, RPN, sampler and box head are used).
        box_postprocess: turns box outputs into detections (inference RoIs).
        mask_head: MaskHead or None; keypoint_head: KeypointHead or None.
        keypoint_classes: 0-based classes that have keypoints (e.g. the person).
    """

    def __init__(self, *, detector: FasterRCNN, box_postprocess: FasterRCNNPostprocess,
                 mask_head: MaskHead | None = None, keypoint_head: KeypointHead | None = None,
                 keypoint_classes: tuple[int, ...] = ()) -> None:
        super().__init__()
        if mask_head is None and keypoint_head is None:
            raise ValueError("MaskRCNN needs a mask head, a keypoint head or both")
        if keypoint_head is not None and not keypoint_classes:
            raise ValueError("keypoint_head given but keypoint_classes is empty")
        self.detector, self.box_postprocess = detector, box_postprocess
        self.mask_head, self.keypoint_head = mask_head, keypoint_head
        self.keypoint_classes = tuple(keypoint_classes)

    def forward(self, images: Tensor, targets: Sequence[Objects] | None = None,
                image_sizes: Sequence[tuple[int, int]] | None = None) -> MaskRCNNOutput:
        """images: Tensor[B, 3, H, W] uint8 (padded); targets: ground truth (training);
        image_sizes: unpadded (H, W) per image, for clipping detections (inference)."""
        d = self.detector
        size = (int(images.shape[-2]), int(images.shape[-1]))
        feats = d.neck(d.backbone(normalize_image(images)))
        rpn_out = d.rpn(list(feats.values()), [size] * len(images))
        pooled = {n: feats[n] for n in d.roi_levels}
        detections = gt_index = None
        if targets is not None:
            rois, roi_labels, matched = d.roi_sampler(rpn_out.proposals, targets)
            cls, deltas = d.roi_head(pooled, rois, size)
            det = FasterRCNNOutput(rpn_out, rois, cls, deltas, roi_labels, matched)
            pos = [lab > 0 for lab in roi_labels]
            head_rois = [r[p] for r, p in zip(rois, pos, strict=True)]
            labels = [lab[p] - 1 for lab, p in zip(roi_labels, pos, strict=True)]
            gt_index = [_match_index(m[p], t.boxes.as_subclass(Tensor).to(m))
                        for m, p, t in zip(matched, pos, targets, strict=True)]
        else:
            cls, deltas = d.roi_head(pooled, rpn_out.proposals, size)
            det = FasterRCNNOutput(rpn_out, rpn_out.proposals, cls, deltas)
            detections = self.box_postprocess(det, list(image_sizes or [size] * len(images)))
            dev = images.device
            head_rois = [o.boxes.as_subclass(Tensor).to(dev) for o in detections]
            labels = [o.labels.to(dev) for o in detections]
        mask_logits = self.mask_head(pooled, head_rois, size) if self.mask_head else None
        kp_select = [torch.isin(lab, lab.new_tensor(self.keypoint_classes)) for lab in labels]
        kp_logits = None
        if self.keypoint_head is not None:
            kp_rois = [r[s] for r, s in zip(head_rois, kp_select, strict=True)]
            kp_logits = self.keypoint_head(pooled, kp_rois, size)
        return MaskRCNNOutput(det, head_rois, labels, gt_index, detections, mask_logits,
                              kp_select, kp_logits)


def _match_index(matched_boxes: Tensor, gt_boxes: Tensor) -> Tensor:
    """Index of the ground-truth box each matched box is (IoU 1 with itself)."""
    if len(matched_boxes) == 0 or len(gt_boxes) == 0:
        return torch.zeros(len(matched_boxes), dtype=torch.int64, device=matched_boxes.device)
    return box_iou(matched_boxes, gt_boxes).argmax(dim=1)


class MaskRCNNLoss:
    """Faster R-CNN losses + ``loss_mask`` (BCE) + ``loss_keypoint`` (spatial CE)."""

    def __init__(self, *, box_loss: FasterRCNNLoss, mask_weight: float = 1.0,
                 keypoint_weight: float = 1.0) -> None:
        self.box_loss, self.mask_weight, self.keypoint_weight = box_loss, mask_weight, \
            keypoint_weight

    def __call__(self, out: MaskRCNNOutput, targets: Sequence[Objects]) -> dict[str, Tensor]:
        if out.gt_index is None:
            raise ValueError("MaskRCNNLoss needs outputs computed with targets")
        losses = self.box_loss(out.det, targets)
        if out.mask_logits is not None:
            m = out.mask_logits.shape[-1]
            tgt = torch.cat([mask_targets(t.masks.as_subclass(Tensor).to(r)[g], r, m)
                             for t, r, g in zip(targets, out.rois, out.gt_index, strict=True)])
            losses["loss_mask"] = self.mask_weight * mask_loss(
                out.mask_logits, torch.cat(out.labels), tgt)
        if out.kp_logits is not None:
            sel = out.kp_select
            rois = torch.cat([r[s] for r, s in zip(out.rois, sel, strict=True)])
            kps = torch.cat([t.keypoints.as_subclass(Tensor).to(rois)[g[s]]
                             for t, g, s in zip(targets, out.gt_index, sel, strict=True)])
            vis = torch.cat([t.visibility.to(rois.device)[g[s]]
                             for t, g, s in zip(targets, out.gt_index, sel, strict=True)])
            losses["loss_keypoint"] = self.keypoint_weight * keypoint_loss(
                out.kp_logits, kps, vis, rois)
        return losses


class MaskRCNNPostprocess:
    """Detections with pasted masks (Mask[N, H, W]) and keypoints (KeyPoints[N, K, 2],
    visibility 2 for the keypoint classes, 0 for the others)."""

    def __init__(self, *, mask_threshold: float = 0.5, num_keypoints: int = 0) -> None:
        self.mask_threshold, self.num_keypoints = mask_threshold, num_keypoints

    @torch.no_grad()
    def __call__(self, out: MaskRCNNOutput, image_sizes: Sequence[tuple[int, int]]
                 ) -> list[Objects]:
        if out.detections is None:
            raise ValueError("MaskRCNNPostprocess needs outputs computed without targets")
        results, start, kp_start = [], 0, 0
        for i, (objs, size) in enumerate(zip(out.detections, image_sizes, strict=True)):
            n = len(objs)
            fields: dict = {}
            boxes = out.rois[i]
            if out.mask_logits is not None:
                logits = out.mask_logits[start:start + n]
                probs = logits[torch.arange(n), out.labels[i]].sigmoid()  # (n, 28, 28)
                fields["masks"] = tv_tensors.Mask(
                    paste_masks(probs, boxes, size, self.mask_threshold).cpu())
            if out.kp_logits is not None:
                sel = out.kp_select[i]
                k = int(sel.sum())
                xy, _ = decode_heatmaps(out.kp_logits[kp_start:kp_start + k], boxes[sel])
                kp = boxes.new_zeros(n, self.num_keypoints, 2)
                vis = torch.zeros(n, self.num_keypoints, dtype=torch.uint8)
                kp[sel], vis[sel.cpu()] = xy, 2
                fields["keypoints"] = tv_tensors.KeyPoints(kp.cpu(), canvas_size=size)
                fields["visibility"] = vis
                kp_start += k
            start += n
            results.append(objs.replace(**fields))
        return results
