"""SOLO post-processing: category scores -> masks -> maskness -> Matrix NMS -> Objects."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes

from seesall.structures import Objects
from seesall.tasks.instance.matrix_nms import Kernel, matrix_nms
from seesall.tasks.instance.solo_head import cell_masks


@dataclass(frozen=True)
class SOLOPostConfig:
    """Thresholds of SOLO inference (the paper's defaults)."""

    score_threshold: float = 0.1
    mask_threshold: float = 0.5
    pre_nms: int = 500
    update_threshold: float = 0.05
    max_per_image: int = 100
    kernel: Kernel = "gaussian"
    sigma: float = 2.0


def _candidates(outputs: dict[str, list[Tensor]], b: int, grids: tuple[int, ...],
                strides: tuple[int, ...], size: tuple[int, int], thr: float
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Cells of image b whose class score > thr: (soft masks [P, h, w] at ``size``,
    labels [P], scores [P], strides [P])."""
    soft, labels, scores, cell_strides = [], [], [], []
    for level, (s, stride) in enumerate(zip(grids, strides, strict=True)):
        prob = outputs["cate"][level][b].sigmoid().permute(1, 2, 0).reshape(s * s, -1)
        cells, cls = (prob > thr).nonzero(as_tuple=True)
        if cells.numel() == 0:
            continue
        m = cell_masks(outputs, level, torch.full_like(cells, b), cells, s)
        soft.append(F.interpolate(m[:, None], size=size, mode="bilinear",
                                  align_corners=False)[:, 0])
        labels.append(cls)
        scores.append(prob[cells, cls])
        cell_strides.append(torch.full_like(cells, stride, dtype=torch.float32))
    if not soft:
        e = torch.zeros(0)
        return torch.zeros(0, *size), e.long(), e, e
    return torch.cat(soft), torch.cat(labels), torch.cat(scores), torch.cat(cell_strides)


@torch.no_grad()
def solo_postprocess(outputs: dict[str, list[Tensor]], *, grids: tuple[int, ...],
                     strides: tuple[int, ...], padded_size: tuple[int, int],
                     image_sizes: list[tuple[int, int]], cfg: SOLOPostConfig = SOLOPostConfig()
                     ) -> list[Objects]:
    """Predictions per image: Objects with masks, boxes (from the masks), labels, scores."""
    mask_key = "mask" if "mask" in outputs else "mask_x"
    common = tuple(outputs[mask_key][0].shape[-2:])  # the finest mask resolution
    results = []
    for b, (h, w) in enumerate(image_sizes):
        soft, labels, scores, strides_b = _candidates(outputs, b, grids, strides, common,
                                                      cfg.score_threshold)
        seg = soft > cfg.mask_threshold
        area = seg.flatten(1).sum(1).float()
        keep = area > strides_b  # drop masks smaller than the cell stride
        soft, seg, labels, scores, area = soft[keep], seg[keep], labels[keep], scores[keep], \
            area[keep]
        maskness = (soft * seg).flatten(1).sum(1) / area.clamp(min=1.0)
        scores = scores * maskness
        order = scores.argsort(descending=True)[: cfg.pre_nms]
        soft, seg, labels, scores = soft[order], seg[order], labels[order], scores[order]
        scores = matrix_nms(seg, labels, scores, kernel=cfg.kernel, sigma=cfg.sigma)
        keep = scores >= cfg.update_threshold
        soft, labels, scores = soft[keep], labels[keep], scores[keep]
        order = scores.argsort(descending=True)[: cfg.max_per_image]
        soft, labels, scores = soft[order], labels[order], scores[order]
        full = F.interpolate(soft[:, None], size=padded_size, mode="bilinear",
                             align_corners=False)[:, 0, :h, :w] > cfg.mask_threshold
        nonempty = full.flatten(1).any(1)
        results.append(_objects(full[nonempty], labels[nonempty], scores[nonempty], (h, w)))
    return results


def _objects(masks: Tensor, labels: Tensor, scores: Tensor, size: tuple[int, int]) -> Objects:
    boxes = masks_to_boxes(masks) if masks.shape[0] else torch.zeros(0, 4)
    boxes[:, 2:] += 1.0  # masks_to_boxes gives the last pixel index; XYXY covers the pixel
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, size[1])
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, size[0])
    return Objects(labels=labels.long(),
                   boxes=tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=size),
                   masks=tv_tensors.Mask(masks), scores=scores.float())
