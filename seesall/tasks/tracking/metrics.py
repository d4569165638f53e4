"""Multi-object tracking metrics (MOTA, IDF1, ...) through ``motmetrics``, the field's reference."""

from __future__ import annotations

import motmetrics as mm
import numpy as np
from torch import Tensor
from torchvision.ops import box_iou

from seesall.structures import Objects

MOT_METRICS = ("mota", "idf1", "motp", "num_switches", "num_false_positives", "num_misses",
               "num_objects", "mostly_tracked", "mostly_lost", "num_frames")
_KEYS = {"mota": "MOTA", "idf1": "IDF1", "motp": "MOTP", "num_switches": "IDSW",
         "num_false_positives": "FP", "num_misses": "FN", "num_objects": "GT",
         "mostly_tracked": "MT", "mostly_lost": "ML", "num_frames": "frames"}


def iou_distance(gt: Objects, pred: Objects, max_distance: float) -> np.ndarray:
    """motmetrics' IoU distance: ndarray[N_gt, N_pred] of 1 - IoU, NaN (do not pair) above
    ``max_distance``. Same as ``mm.distances.iou_matrix``, which calls ``np.asfarray`` (gone
    in NumPy 2)."""
    a = gt.boxes.as_subclass(Tensor).double().reshape(-1, 4)
    b = pred.boxes.as_subclass(Tensor).double().reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.empty((len(a), len(b)))
    dist = 1.0 - box_iou(a, b).numpy()
    dist[dist > max_distance] = np.nan
    return dist


class MOTMetrics:
    """CLEAR-MOT and identity metrics over sequences, computed by motmetrics.

    ``start_sequence()`` before each clip, ``update(gt, pred)`` per frame with
    Objects carrying ``ids``; a ground-truth box and a prediction may match
    when their IoU is at least ``iou_threshold`` (MOTChallenge: 0.5).
    ``compute()`` -> {"MOTA", "IDF1", "MOTP" (mean 1 - IoU of matches), "IDSW", "FP",
    "FN", "GT", "MT", "ML", "frames"}; MOTA and IDF1 in percent, over all sequences.
    """

    def __init__(self, *, iou_threshold: float = 0.5) -> None:
        self.iou_threshold = iou_threshold
        self.reset()

    def reset(self) -> None:
        self._accs: list[mm.MOTAccumulator] = []

    def start_sequence(self) -> None:
        self._accs.append(mm.MOTAccumulator(auto_id=True))

    def update(self, gt: Objects, pred: Objects) -> None:
        if not self._accs:
            self.start_sequence()
        for name, objs in (("gt", gt), ("pred", pred)):
            if objs.ids is None:
                raise ValueError(f"{name} objects need ids (track ids) for tracking metrics")
        dist = iou_distance(gt, pred, 1.0 - self.iou_threshold)
        self._accs[-1].update(gt.ids.tolist(), pred.ids.tolist(), dist)

    def compute(self) -> dict[str, float]:
        if not self._accs:
            raise ValueError("MOTMetrics.compute before any update")
        mh = mm.metrics.create()
        names = [f"seq{i}" for i in range(len(self._accs))]
        df = mh.compute_many(self._accs, metrics=list(MOT_METRICS), names=names, generate_overall=True)
        row = df.loc["OVERALL"]
        out = {_KEYS[k]: float(row[k]) for k in MOT_METRICS}
        out["MOTA"] *= 100.0
        out["IDF1"] *= 100.0
        return out
