"""Flow metrics: end-point error (all / valid / occluded) and KITTI's Fl-all outlier rate."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def end_point_error(pred: Tensor, gt: Tensor) -> Tensor:
    """Per-pixel Euclidean distance: Tensor[..., 2, H, W] x 2 -> Tensor[..., H, W]."""
    if pred.shape != gt.shape or pred.shape[-3] != 2:
        raise ValueError(f"pred and gt must be equal [..., 2, H, W], got {list(pred.shape)} "
                         f"and {list(gt.shape)}")
    return torch.linalg.vector_norm(pred.float() - gt.float(), dim=-3)


def flow_outliers(pred: Tensor, gt: Tensor) -> Tensor:
    """KITTI outliers: EPE > 3 px and EPE > 5 % of the ground-truth magnitude. Tensor[..., H, W] bool."""
    epe = end_point_error(pred, gt)
    mag = torch.linalg.vector_norm(gt.float(), dim=-3)
    return (epe > 3.0) & (epe > 0.05 * mag)


class FlowMetrics:
    """Accumulates flow errors over a set; every mean is over pixels of the whole set.

    ``update(pred, gt, valid)`` with Tensor[2, H, W] (or batched [B, 2, H, W]) flows and a
    bool mask of the pixels with valid ground truth (visible in both frames). Pixels
    outside ``valid`` but with finite ground truth (occluded) go to ``EPE-occ``.

    ``compute()`` -> {"EPE": valid pixels, "EPE-all": finite pixels, "EPE-occ": occluded
    pixels, "Fl-all": % outliers among valid pixels, "1px"/"3px"/"5px": % valid pixels
    within that error, "pixels": count of valid pixels}. Missing sets give NaN.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._sums = dict.fromkeys(("valid", "all", "occ", "fl", "1px", "3px", "5px"), 0.0)
        self._counts = dict.fromkeys(("valid", "all", "occ"), 0)

    def update(self, pred: Tensor, gt: Tensor, valid: Tensor | None = None) -> None:
        gt = gt.float()
        finite = torch.isfinite(gt).all(dim=-3)
        valid = finite if valid is None else (valid.bool() & finite)
        if valid.shape != gt.shape[:-3] + gt.shape[-2:]:
            raise ValueError(f"valid must have shape {list(gt.shape[:-3] + gt.shape[-2:])}, "
                             f"got {list(valid.shape)}")
        safe_gt = torch.where(finite.unsqueeze(-3), gt, torch.zeros_like(gt))
        epe = end_point_error(pred, safe_gt).double()
        occ = finite & ~valid
        for key, mask in (("valid", valid), ("all", finite), ("occ", occ)):
            self._sums[key] += float(epe[mask].sum())
            self._counts[key] += int(mask.sum())
        self._sums["fl"] += float(flow_outliers(pred, safe_gt)[valid].sum())
        for px in (1, 3, 5):
            self._sums[f"{px}px"] += float((epe[valid] < px).sum())

    def state(self) -> tuple[dict[str, float], dict[str, int]]:
        """Partial sums and counts (picklable), for merging across processes."""
        return dict(self._sums), dict(self._counts)

    def merge(self, states: list[tuple[dict[str, float], dict[str, int]]]) -> None:
        """Replace the accumulated errors by the sum of ``states``."""
        self.reset()
        for sums, counts in states:
            for k, v in sums.items():
                self._sums[k] += v
            for k, v in counts.items():
                self._counts[k] += v

    def compute(self) -> dict[str, float]:
        def mean(key: str, count: str) -> float:
            n = self._counts[count]
            return self._sums[key] / n if n else float("nan")

        return {
            "EPE": mean("valid", "valid"),
            "EPE-all": mean("all", "all"),
            "EPE-occ": mean("occ", "occ"),
            "Fl-all": 100.0 * mean("fl", "valid"),
            "1px": 100.0 * mean("1px", "valid"),
            "3px": 100.0 * mean("3px", "valid"),
            "5px": 100.0 * mean("5px", "valid"),
            "pixels": float(self._counts["valid"]),
        }


def flow_metrics_numpy(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """One-pair convenience: HWC numpy flows ([H, W, 2]) -> ``FlowMetrics.compute()``."""
    m = FlowMetrics()
    m.update(torch.from_numpy(pred).permute(2, 0, 1), torch.from_numpy(gt).permute(2, 0, 1),
             None if valid is None else torch.from_numpy(valid))
    return m.compute()
