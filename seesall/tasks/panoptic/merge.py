"""Panoptic merge (Kirillov et al. 2019, "Panoptic Segmentation", sec. 7 heuristic):
instance masks in decreasing score order, then semantic "stuff" into what is left.

A panoptic map is Tensor[H, W] int64 of segment ids (0 = void, no segment); each
segment has a category (semantic class id: stuff classes first, then things as
``num_stuff + thing label``) and an ``isthing`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seesall.structures import IGNORE_INDEX, Scene


@dataclass(frozen=True)
class Segment:
    """One segment of a panoptic map."""

    id: int
    category_id: int
    isthing: bool
    score: float = 1.0
    iscrowd: bool = False


@dataclass(frozen=True)
class MergeConfig:
    """Thresholds of the merge.

    score_threshold: instances below it are dropped.
    overlap_threshold: an instance is dropped when more than this fraction of its mask
        is already taken by higher-scoring instances.
    min_instance_area: instances with fewer free pixels are dropped.
    min_stuff_area: stuff regions with fewer free pixels are left void.
    """

    score_threshold: float = 0.5
    overlap_threshold: float = 0.5
    min_instance_area: int = 1
    min_stuff_area: int = 16


def merge_panoptic(*, semantic: Tensor, masks: Tensor, labels: Tensor, scores: Tensor,
                   num_stuff: int, cfg: MergeConfig = MergeConfig()
                   ) -> tuple[Tensor, list[Segment]]:
    """Things then stuff into one map without overlaps.

    Args:
        semantic: Tensor[H, W] int64 predicted semantic classes (stuff ids < num_stuff).
        masks: Tensor[N, H, W] bool instance masks; labels: Tensor[N] thing labels;
            scores: Tensor[N].
        num_stuff: number of stuff classes (category of thing label l is num_stuff + l).

    Returns:
        (Tensor[H, W] int64 segment ids, 0 = void; the segments in id order).
    """
    h, w = semantic.shape
    if masks.shape[1:] != (h, w) and masks.numel():
        raise ValueError(f"masks of shape {list(masks.shape)} for a semantic map of {[h, w]}")
    pan = torch.zeros(h, w, dtype=torch.int64)
    segments: list[Segment] = []
    for i in torch.argsort(scores, descending=True, stable=True).tolist():
        score = float(scores[i])
        if score < cfg.score_threshold:
            break
        mask = masks[i].bool()
        area = int(mask.sum())
        if area == 0:
            continue
        free = mask & (pan == 0)
        if 1.0 - int(free.sum()) / area > cfg.overlap_threshold or free.sum() < max(
                cfg.min_instance_area, 1):
            continue
        seg = Segment(len(segments) + 1, num_stuff + int(labels[i]), True, score)
        pan[free] = seg.id
        segments.append(seg)
    for c in torch.unique(semantic).tolist():
        if c >= num_stuff or c == IGNORE_INDEX:
            continue
        free = (semantic == c) & (pan == 0)
        if int(free.sum()) < max(cfg.min_stuff_area, 1):
            continue
        seg = Segment(len(segments) + 1, int(c), False)
        pan[free] = seg.id
        segments.append(seg)
    return pan, segments


def scene_to_panoptic(scene: Scene, num_stuff: int) -> tuple[Tensor, list[Segment]]:
    """Ground-truth panoptic map of a scene: one segment per stuff class present in
    ``scene.semantic`` and one per object mask (objects drawn in order, later ones on top
    of earlier ones where masks overlap); ignore pixels are void (0)."""
    if scene.semantic is None or scene.objects.masks is None:
        raise ValueError("a panoptic ground truth needs scene.semantic and objects.masks")
    sem = scene.semantic.as_subclass(Tensor)
    pan = torch.zeros_like(sem, dtype=torch.int64)
    segments: list[Segment] = []
    for c in torch.unique(sem).tolist():
        if c < num_stuff:
            segments.append(Segment(len(segments) + 1, int(c), False))
            pan[sem == c] = segments[-1].id
    masks = scene.objects.masks.as_subclass(Tensor)
    for i in range(len(scene.objects)):
        if masks[i].any():
            segments.append(Segment(len(segments) + 1,
                                    num_stuff + int(scene.objects.labels[i]), True))
            pan[masks[i]] = segments[-1].id
    present = set(torch.unique(pan).tolist())
    return pan, [s for s in segments if s.id in present]
