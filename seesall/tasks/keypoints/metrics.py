"""Object keypoint similarity (OKS) and COCO keypoint AP with configurable sigmas.

OKS between a predicted and a ground-truth person (COCO):

    OKS = Σ_i exp(−d_i² / (2 s² k_i²)) δ(v_i > 0) / Σ_i δ(v_i > 0),   k_i = 2σ_i,

with d_i the distance of keypoint i, s² the object's area and v_i the ground-truth
visibility flag. The AP is pycocotools' ``COCOeval(iouType="keypoints")`` algorithm
(run by ``seesall.tasks.detection.coco_eval.run_cocoeval``) with ``params.kpt_oks_sigmas``
set to the sigmas given here (COCO's 17 by default; the synthetic stick-figure person has
13 keypoints and its own sigmas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seesall.structures import Objects, Scene
from seesall.tasks.detection.coco_eval import (
    KPT_STAT_KEYS,
    Engine,
    categories_from_names,
    objects_to_coco_annotations,
    objects_to_coco_results,
    run_cocoeval,
)

COCO_SIGMAS: tuple[float, ...] = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072,
                                  0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089)
"""pycocotools' per-keypoint sigmas of the 17 COCO person keypoints."""

SYNTHETIC_PERSON_SIGMAS: tuple[float, ...] = (0.050, 0.050, 0.079, 0.079, 0.072, 0.072,
                                              0.062, 0.062, 0.107, 0.087, 0.087, 0.089, 0.089)
"""Sigmas of the world's 13 stick-figure keypoints (head, neck, shoulders, elbows, hands,
pelvis, knees, feet), taken from the COCO keypoint of the same body part (head and neck:
0.05, between COCO's face points and shoulders)."""


def default_sigmas(num_keypoints: int) -> tuple[float, ...]:
    """COCO's sigmas for 17 keypoints, the synthetic person's for 13; otherwise an error."""
    if num_keypoints == len(COCO_SIGMAS):
        return COCO_SIGMAS
    if num_keypoints == len(SYNTHETIC_PERSON_SIGMAS):
        return SYNTHETIC_PERSON_SIGMAS
    raise ValueError(f"no default OKS sigmas for {num_keypoints} keypoints; give --sigmas")


def oks(pred: Tensor, gt: Tensor, gt_visibility: Tensor, gt_areas: Tensor, gt_boxes: Tensor,
        sigmas: Sequence[float]) -> Tensor:
    """OKS matrix as pycocotools computes it.

    Args:
        pred: Tensor[N, K, 2]; gt: Tensor[M, K, 2]; gt_visibility: Tensor[M, K];
        gt_areas: Tensor[M]; gt_boxes: Tensor[M, 4] XYXY (used when a ground truth has
        no labelled keypoint: distance to its box enlarged to 3× its size).
    Returns:
        Tensor[N, M] float64.
    """
    s = torch.as_tensor(sigmas, dtype=torch.float64)
    if s.numel() != pred.shape[1] or gt.shape[1] != pred.shape[1]:
        raise ValueError(f"{s.numel()} sigmas for keypoints of shape {list(pred.shape)} / "
                         f"{list(gt.shape)}")
    var = (2 * s) ** 2  # (K,)
    p, g = pred.double()[:, None], gt.double()[None]  # (N, 1, K, 2), (1, M, K, 2)
    labelled = gt_visibility[None] > 0  # (1, M, K)
    b = gt_boxes.double()
    w, h = (b[:, 2] - b[:, 0])[None, :, None], (b[:, 3] - b[:, 1])[None, :, None]
    lo_x, lo_y = b[:, 0][None, :, None] - w, b[:, 1][None, :, None] - h
    hi_x, hi_y = b[:, 0][None, :, None] + 2 * w, b[:, 1][None, :, None] + 2 * h
    px, py = p[..., 0], p[..., 1]  # (N, 1, K)
    out_dx = (lo_x - px).clamp(min=0) + (px - hi_x).clamp(min=0)
    out_dy = (lo_y - py).clamp(min=0) + (py - hi_y).clamp(min=0)
    has = labelled.any(dim=2, keepdim=True)  # (1, M, 1)
    dx = torch.where(has, px - g[..., 0], out_dx)
    dy = torch.where(has, py - g[..., 1], out_dy)
    area = gt_areas.double()[None, :, None] + np.spacing(1)
    sim = torch.exp(-(dx ** 2 + dy ** 2) / var / area / 2)  # (N, M, K)
    weight = torch.where(has, labelled, torch.ones_like(labelled)).double()
    return (sim * weight).sum(2) / weight.sum(2)


def evaluate_keypoints(gt: dict, results: list[dict], sigmas: Sequence[float], *,
                       engine: Engine = "auto") -> dict[str, float]:
    """The 10 COCO keypoint stats (AP, AP50, ..., ARl) with per-keypoint OKS ``sigmas``."""
    ev = run_cocoeval(gt, results, iou_type="keypoints", engine=engine, kpt_oks_sigmas=sigmas)
    return {k: float(v) for k, v in zip(KPT_STAT_KEYS, ev.stats, strict=True)}


class KeypointEvaluator:
    """``reset / update(scenes, predictions) / compute`` of COCO keypoint AP for the
    objects of ``classes`` (labels as in the scenes), e.g. (person,)."""

    def __init__(self, *, classes: Sequence[int], class_names: Sequence[str],
                 sigmas: Sequence[float]) -> None:
        self.classes, self.class_names = list(classes), list(class_names)
        self.sigmas = tuple(sigmas)
        self.reset()

    def reset(self) -> None:
        self._images: list[dict] = []
        self._anns: list[dict] = []
        self._results: list[dict] = []

    def _keep(self, objs: Objects) -> Objects:
        """The objects of ``classes``, relabelled to their index in ``classes``."""
        kept = objs[torch.isin(objs.labels, torch.tensor(self.classes))]
        remap = torch.tensor([self.classes.index(int(c)) for c in kept.labels], dtype=torch.int64)
        return kept.replace(labels=remap)

    def update(self, scenes: Sequence[Scene], predictions: Sequence[Objects]) -> None:
        for scene, pred in zip(scenes, predictions, strict=True):
            h, w = scene.size
            self._images.append({"id": int(scene.image_id), "height": h, "width": w})
            self._anns += objects_to_coco_annotations(self._keep(scene.objects),
                                                      int(scene.image_id),
                                                      len(self._anns) + 1, "keypoints")
            self._results += objects_to_coco_results(self._keep(pred), int(scene.image_id),
                                                     "keypoints")

    def compute(self) -> dict[str, Any]:
        gt = {"images": self._images, "annotations": self._anns,
              "categories": categories_from_names(self.class_names)}
        return evaluate_keypoints(gt, self._results, self.sigmas)
