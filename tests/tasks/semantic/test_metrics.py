"""mIoU against scikit-learn's confusion matrix; boundary IoU on hand-made squares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion

from seesall.tasks.semantic.metrics import SemanticMetric, mask_boundary


@pytest.mark.parametrize("seed", range(3))
def test_miou_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = 5
    gts = [rng.integers(0, c, (7, 9)) for _ in range(3)]
    preds = [rng.integers(0, c - 1, (7, 9)) for _ in range(3)]  # class 4 never predicted
    for g in gts:
        g[rng.random(g.shape) < 0.2] = 255
    gts[0][gts[0] == 3] = 0  # make class 3 rarer
    metric = SemanticMetric(c)
    for p, g in zip(preds, gts, strict=True):
        metric.update(torch.from_numpy(p), torch.from_numpy(g))
    out = metric.compute()
    g_all = np.concatenate([g.ravel() for g in gts])
    p_all = np.concatenate([p.ravel() for p in preds])
    keep = g_all != 255
    cm = sk_confusion(g_all[keep], p_all[keep], labels=list(range(c))).astype(np.float64)
    tp = np.diag(cm)
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    np.testing.assert_allclose(out["iou_per_class"], iou, rtol=0, atol=1e-12)
    assert out["mIoU"] == pytest.approx(np.nanmean(iou), abs=1e-12)
    assert out["pixel_accuracy"] == pytest.approx(tp.sum() / cm.sum(), abs=1e-12)


def test_absent_class_is_nan_and_left_out_of_the_mean() -> None:
    metric = SemanticMetric(3)
    metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
    out = metric.compute()
    assert np.isnan(out["iou_per_class"][2]) and out["mIoU"] == 1.0


def test_out_of_range_label_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        SemanticMetric(2).update(torch.tensor([[0, 1]]), torch.tensor([[0, 7]]))


def _ring(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    m[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = False
    return m


def test_mask_boundary_is_the_inner_ring() -> None:
    m = np.zeros((8, 8), bool)
    m[2:6, 2:6] = True
    assert np.array_equal(mask_boundary(m, 1), _ring(2, 6, 2, 6, (8, 8)))
    # the image border counts as contour; width 2 leaves the 4 centre pixels of 8×8... inside
    full = np.ones((8, 8), bool)
    inner = np.zeros((8, 8), bool)
    inner[2:6, 2:6] = True
    assert np.array_equal(mask_boundary(full, 2), full & ~inner)


def test_boundary_iou_by_hand() -> None:
    gt = torch.zeros(8, 8, dtype=torch.long)
    gt[2:6, 2:6] = 1
    pred = torch.zeros(8, 8, dtype=torch.long)
    pred[2:6, 3:7] = 1  # shifted right by one
    metric = SemanticMetric(2)  # diagonal 11.3 × 0.02 -> d = 1
    metric.update(pred, gt)
    out = metric.compute()
    # rings of 12 pixels each; shared: rows 2 and 5 at columns 3..5 -> 6; union 18
    assert out["boundary_iou_per_class"][1] == pytest.approx(6 / 18)
    # the mask IoU of the same pair is 12 / 20
    assert out["iou_per_class"][1] == pytest.approx(12 / 20)
