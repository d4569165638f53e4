"""Panoptic quality PQ = SQ × RQ (Kirillov et al., CVPR 2019), as computed by the
reference ``panopticapi`` (pq_compute):

* a predicted and a ground-truth segment of the same category match when their IoU
  > 0.5, where the union leaves out the predicted pixels that fall on void;
* unmatched ground-truth segments are false negatives, except crowd segments;
* an unmatched predicted segment is a false positive unless more than half of it
  lies on void or on a crowd region of its category;
* PQ_c = Σ_TP IoU / (|TP| + ½|FP| + ½|FN|); SQ_c = Σ_TP IoU / |TP| (0 without TP);
  RQ_c = |TP| / (|TP| + ½|FP| + ½|FN|); averaged over the categories that occur
  (TP + FP + FN > 0), for all, things and stuff.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from seesall.tasks.panoptic.merge import Segment

VOID = 0
_OFFSET = 1 << 32


class PanopticQuality:
    """``reset / update / compute`` over a dataset.

    Args:
        categories: category id -> isthing.
    """

    def __init__(self, categories: dict[int, bool]) -> None:
        self.categories = dict(categories)
        self.reset()

    def reset(self) -> None:
        self.stats = {c: [0.0, 0, 0, 0] for c in self.categories}  # iou sum, tp, fp, fn

    def update(self, gt: Tensor, gt_segments: Sequence[Segment], pred: Tensor,
               pred_segments: Sequence[Segment]) -> None:
        """gt/pred: Tensor[H, W] int64 segment ids (0 = void) and their segments."""
        if gt.shape != pred.shape:
            raise ValueError(f"panoptic maps differ in shape: gt {list(gt.shape)}, "
                             f"pred {list(pred.shape)}")
        g, p = gt.cpu().numpy().astype(np.int64), pred.cpu().numpy().astype(np.int64)
        gt_segs = {s.id: s for s in gt_segments}
        pred_segs = {s.id: s for s in pred_segments}
        gt_area = _areas(g, gt_segs, "ground truth")
        pred_area = _areas(p, pred_segs, "prediction")
        for s in list(gt_segs.values()) + list(pred_segs.values()):
            if s.category_id not in self.categories:
                raise ValueError(f"segment {s.id} has unknown category {s.category_id}")
        keys, counts = np.unique(g * _OFFSET + p, return_counts=True)
        inter = {(int(k // _OFFSET), int(k % _OFFSET)): int(n)
                 for k, n in zip(keys, counts, strict=True)}
        gt_matched, pred_matched = self._match(inter, gt_segs, pred_segs, gt_area, pred_area)
        crowd_by_cat: dict[int, int] = {}
        for gid, s in gt_segs.items():
            if gid in gt_matched or gid not in gt_area:
                continue
            if s.iscrowd:
                crowd_by_cat[s.category_id] = gid
                continue
            self.stats[s.category_id][3] += 1
        for pid, s in pred_segs.items():
            if pid in pred_matched or pid not in pred_area:
                continue
            ignored = inter.get((VOID, pid), 0)
            if s.category_id in crowd_by_cat:
                ignored += inter.get((crowd_by_cat[s.category_id], pid), 0)
            if ignored / pred_area[pid] > 0.5:
                continue
            self.stats[s.category_id][2] += 1

    def _match(self, inter: dict[tuple[int, int], int], gt_segs: dict[int, Segment],
               pred_segs: dict[int, Segment], gt_area: dict[int, int],
               pred_area: dict[int, int]) -> tuple[set[int], set[int]]:
        gt_matched: set[int] = set()
        pred_matched: set[int] = set()
        for (gid, pid), n in inter.items():
            if gid not in gt_segs or pid not in pred_segs or gt_segs[gid].iscrowd:
                continue
            cat = gt_segs[gid].category_id
            if cat != pred_segs[pid].category_id:
                continue
            union = pred_area[pid] + gt_area[gid] - n - inter.get((VOID, pid), 0)
            iou = n / union
            if iou > 0.5:
                self.stats[cat][0] += iou
                self.stats[cat][1] += 1
                gt_matched.add(gid)
                pred_matched.add(pid)
        return gt_matched, pred_matched

    def compute(self) -> dict[str, float | dict[int, dict[str, float]]]:
        """PQ/SQ/RQ over all categories, things (``_th``) and stuff (``_st``), ``per_class``
        and ``n`` / ``n_th`` / ``n_st`` (number of categories averaged)."""
        per_class: dict[int, dict[str, float]] = {}
        for c, (iou, tp, fp, fn) in self.stats.items():
            if tp + fp + fn == 0:
                continue
            denom = tp + 0.5 * fp + 0.5 * fn
            per_class[c] = {"PQ": iou / denom, "SQ": iou / tp if tp else 0.0, "RQ": tp / denom}
        out: dict = {}
        for suffix, keep in (("", None), ("_th", True), ("_st", False)):
            cats = [c for c in per_class if keep is None or self.categories[c] == keep]
            for k in ("PQ", "SQ", "RQ"):
                out[k + suffix] = (float(np.mean([per_class[c][k] for c in cats]))
                                   if cats else 0.0)
            out["n" + suffix] = len(cats)
        out["per_class"] = per_class
        return out


def _areas(pan: np.ndarray, segs: dict[int, Segment], what: str) -> dict[int, int]:
    ids, counts = np.unique(pan, return_counts=True)
    areas = {}
    for i, n in zip(ids.tolist(), counts.tolist(), strict=True):
        if i == VOID:
            continue
        if i not in segs:
            raise ValueError(f"{what} map has segment id {i} that is not in its segments")
        areas[i] = n
    return areas


def categories_from_world(num_stuff: int, num_things: int) -> dict[int, bool]:
    """Category id -> isthing for a world with stuff classes first, then things."""
    return {c: c >= num_stuff for c in range(num_stuff + num_things)}

