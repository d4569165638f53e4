"""Tracking by detection: predict every track's box, match by IoU (Hungarian), births and deaths.

Each frame, every live track predicts where its box is now, either with a
constant-velocity model or by shifting it with the median optical flow inside
it (flow from the previous frame to this one). Detections are matched to the
predictions of the same class by the Hungarian algorithm on 1 - IoU
(``scipy.optimize.linear_sum_assignment``); pairs below ``iou_threshold`` are
rejected. Unmatched confident detections start tracks (births); tracks unmatched
for more than ``max_misses`` frames end (deaths).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torchvision import tv_tensors
from torchvision.ops import box_iou

from seesall.structures import Objects


@dataclass
class Track:
    """One tracked object: its id, class, last box (Tensor[4] XYXY), velocity and counters."""

    id: int
    label: int
    box: Tensor
    velocity: Tensor
    score: float
    hits: int = 1
    misses: int = 0


def propagate_boxes(boxes: Tensor, flow: Tensor) -> Tensor:
    """Shift each box Tensor[N, 4] by the median flow Tensor[2, H, W] inside it (at least one pixel)."""
    h, w = flow.shape[-2:]
    out = boxes.clone()
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        xa, ya = min(max(int(x1), 0), w - 1), min(max(int(y1), 0), h - 1)
        xb, yb = max(min(int(np.ceil(x2)), w), xa + 1), max(min(int(np.ceil(y2)), h), ya + 1)
        d = flow[:, ya:yb, xa:xb].reshape(2, -1).median(dim=1).values  # (2,)
        out[i] += torch.cat([d, d]).to(out.dtype)
    return out


class Tracker:
    """Online multi-object tracker (SORT-like, with an optional flow motion model).

    Args:
        iou_threshold: smallest IoU between a prediction and a detection to match them.
        max_misses: a track survives this many frames without a detection.
        min_score: detections below this score neither match nor start tracks.
        min_hits: a track is reported once it has been matched this many times.
        motion: "velocity" (constant velocity) or "flow" (median flow inside the box;
            ``update`` then needs the flow from the previous frame).
    """

    def __init__(self, *, iou_threshold: float = 0.3, max_misses: int = 3, min_score: float = 0.5,
                 min_hits: int = 1, motion: str = "velocity") -> None:
        if motion not in ("velocity", "flow", "none"):
            raise ValueError(f"motion must be 'velocity', 'flow' or 'none', got {motion!r}")
        self.iou_threshold, self.max_misses = iou_threshold, max_misses
        self.min_score, self.min_hits, self.motion = min_score, min_hits, motion
        self.reset()

    def reset(self) -> None:
        self.tracks: list[Track] = []
        self._next_id = 1

    def _predict(self, flow: Tensor | None) -> Tensor:
        if not self.tracks:
            return torch.zeros(0, 4)
        boxes = torch.stack([t.box for t in self.tracks])  # (M, 4)
        if self.motion == "flow":
            if flow is None:
                raise ValueError("Tracker(motion='flow').update needs the flow from the previous frame")
            return propagate_boxes(boxes, flow)
        if self.motion == "velocity":
            return boxes + torch.stack([t.velocity for t in self.tracks])
        return boxes

    def _match(self, pred: Tensor, dets: Objects) -> list[tuple[int, int]]:
        if len(pred) == 0 or len(dets) == 0:
            return []
        iou = box_iou(pred, dets.boxes.as_subclass(Tensor).float())  # (M, N)
        same = torch.tensor([t.label for t in self.tracks])[:, None] == dets.labels[None]
        iou = torch.where(same, iou, torch.zeros_like(iou))
        rows, cols = linear_sum_assignment(-iou.numpy())
        return [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
                if iou[r, c] >= self.iou_threshold]

    def update(self, detections: Objects, flow: Tensor | None = None) -> Objects:
        """Advance by one frame.

        Args:
            detections: this frame's detections (boxes, labels, scores; scores None = 1).
            flow: Tensor[2, H, W] from the previous frame to this one (for motion="flow").

        Returns:
            Objects of the tracks matched or born in this frame with ``ids`` = track ids
            (tracks with fewer than ``min_hits`` matches are left out).
        """
        scores = detections.scores if detections.scores is not None else torch.ones(len(detections))
        dets = detections[scores >= self.min_score]
        det_scores = scores[scores >= self.min_score]
        pred = self._predict(flow)
        matches = self._match(pred, dets)
        matched_t = {r for r, _ in matches}
        matched_d = {c for _, c in matches}
        reported: list[tuple[Track, int]] = []
        for r, c in matches:
            t, box = self.tracks[r], dets.boxes[c].as_subclass(Tensor).float()
            t.velocity = 0.5 * t.velocity + 0.5 * (box - t.box)
            t.box, t.score, t.hits, t.misses = box, float(det_scores[c]), t.hits + 1, 0
            reported.append((t, c))
        for i, t in enumerate(self.tracks):
            if i not in matched_t:
                t.misses += 1
                t.box = pred[i]
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for c in range(len(dets)):
            if c not in matched_d:
                t = Track(id=self._next_id, label=int(dets.labels[c]),
                          box=dets.boxes[c].as_subclass(Tensor).float(), velocity=torch.zeros(4),
                          score=float(det_scores[c]))
                self._next_id += 1
                self.tracks.append(t)
                reported.append((t, c))
        return _to_objects([(t, c) for t, c in reported if t.hits >= self.min_hits], dets)


def _to_objects(pairs: list[tuple[Track, int]], dets: Objects) -> Objects:
    canvas = dets.canvas_size
    if not pairs:
        return Objects.empty(canvas).replace(scores=torch.zeros(0))
    boxes = dets.boxes.as_subclass(Tensor)[[c for _, c in pairs]].float()
    return Objects(
        labels=torch.tensor([t.label for t, _ in pairs], dtype=torch.int64),
        boxes=tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas),
        ids=torch.tensor([t.id for t, _ in pairs], dtype=torch.int64),
        scores=torch.tensor([t.score for t, _ in pairs], dtype=torch.float32),
    )
