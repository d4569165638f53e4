"""Tracking: MOT metrics vs motmetrics and a hand count, tracker births/deaths, mask propagation."""

from __future__ import annotations

import motmetrics as mm
import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from seesall.structures import Objects
from seesall.tasks.flow.classical import dis_flow
from seesall.tasks.tracking.metrics import MOTMetrics
from seesall.tasks.tracking.propagate import mask_iou, propagate_masks, warp_backward
from seesall.tasks.tracking.tracker import Tracker, propagate_boxes

CANVAS = (100, 200)


def _objs(boxes, ids, labels=None, scores=None) -> Objects:
    n = len(boxes)
    return Objects(
        labels=torch.tensor(labels if labels is not None else [0] * n, dtype=torch.int64),
        boxes=tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                       format="XYXY", canvas_size=CANVAS),
        ids=torch.tensor(ids, dtype=torch.int64),
        scores=None if scores is None else torch.tensor(scores, dtype=torch.float32),
    )


# frame -> (gt, pred); see test_mot_metrics_by_hand for the counts
SEQUENCE = [
    (_objs([[0, 0, 10, 10], [50, 50, 60, 60]], [1, 2]), _objs([[0, 0, 10, 10], [50, 50, 60, 60]], [10, 20])),
    (_objs([[2, 0, 12, 10], [52, 50, 62, 60]], [1, 2]), _objs([[2, 0, 12, 10], [52, 50, 62, 60]], [10, 30])),
    (_objs([[4, 0, 14, 10], [54, 50, 64, 60]], [1, 2]), _objs([[4, 0, 14, 10], [150, 50, 160, 60]], [10, 40])),
]


def test_mot_metrics_by_hand():
    """6 GT boxes, 1 miss, 1 false positive, 1 id switch: MOTA = 1 - 3/6.
    IDF1: gt1 <-> p10 (3 frames) and gt2 <-> p20 or p30 (1 frame): 2 * 4 / (6 + 6)."""
    m = MOTMetrics()
    m.start_sequence()
    for gt, pred in SEQUENCE:
        m.update(gt, pred)
    r = m.compute()
    assert r["MOTA"] == pytest.approx(50.0)
    assert r["IDF1"] == pytest.approx(100 * 8 / 12)
    assert (r["IDSW"], r["FP"], r["FN"], r["GT"]) == (1, 1, 1, 6)


def test_mot_metrics_equal_motmetrics_directly(monkeypatch):
    # motmetrics 1.4 calls np.asfarray, removed in NumPy 2
    monkeypatch.setattr(np, "asfarray", lambda a: np.asarray(a, dtype=float), raising=False)
    acc = mm.MOTAccumulator(auto_id=True)
    for gt, pred in SEQUENCE:
        to_xywh = lambda o: np.c_[o.boxes[:, :2].numpy(), (o.boxes[:, 2:] - o.boxes[:, :2]).numpy()]  # noqa: E731
        acc.update(gt.ids.tolist(), pred.ids.tolist(),
                   mm.distances.iou_matrix(to_xywh(gt), to_xywh(pred), max_iou=0.5))
    ref = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "motp"], name="x")
    m = MOTMetrics()
    for gt, pred in SEQUENCE:
        m.update(gt, pred)
    r = m.compute()
    assert r["MOTA"] == pytest.approx(100 * ref["mota"].iloc[0])
    assert r["IDF1"] == pytest.approx(100 * ref["idf1"].iloc[0])
    assert r["MOTP"] == pytest.approx(ref["motp"].iloc[0])


def test_tracker_births_deaths_and_crossing():
    """Two objects of different classes cross; a third is born at frame 2; the first vanishes
    for longer than max_misses and comes back with a new id."""
    tr = Tracker(iou_threshold=0.3, max_misses=1, motion="velocity")
    ids = []
    for t in range(8):
        boxes, labels = [[10 + 5 * t, 10, 30 + 5 * t, 30], [60 - 5 * t, 12, 80 - 5 * t, 32]], [0, 1]
        if t >= 2:
            boxes.append([150, 60, 170, 80])
            labels.append(2)
        if 3 <= t <= 5:  # object 0 missing for 3 frames
            boxes, labels = boxes[1:], labels[1:]
        out = tr.update(_objs(boxes, list(range(len(boxes))), labels))
        ids.append(dict(zip(out.labels.tolist(), out.ids.tolist(), strict=True)))
    assert all(d[1] == ids[0][1] for d in ids)  # class 1 keeps its id through the crossing
    assert ids[2][2] == ids[7][2] == 3  # born at frame 2 as the third track
    assert ids[0][0] == ids[2][0] == 1 and ids[6][0] == 4  # died, then reborn with a new id


def test_tracker_low_scores_do_not_start_tracks():
    tr = Tracker(min_score=0.5)
    out = tr.update(_objs([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1], scores=[0.9, 0.2]))
    assert len(out) == 1 and len(tr.tracks) == 1


def test_propagate_boxes_with_uniform_flow():
    flow = torch.zeros(2, 100, 200)
    flow[0], flow[1] = 3.0, -2.0
    out = propagate_boxes(torch.tensor([[10.0, 20.0, 30.0, 40.0]]), flow)
    assert out.tolist() == [[13.0, 18.0, 33.0, 38.0]]


def test_warp_backward_integer_shift_equals_roll():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 20)
    flow = torch.zeros(2, 16, 20)
    flow[0], flow[1] = -3.0, 2.0  # out(p) = x(p + (-3, 2))
    out = warp_backward(x, flow)
    ref = torch.roll(x, shifts=(-2, 3), dims=(2, 3))
    torch.testing.assert_close(out[..., :14, 3:], ref[..., :14, 3:])
    assert out[..., 14:, :].abs().max() == 0  # sampled from outside: zeros


def _patch_clip():
    """A 24x24 textured patch moving 3 px right per frame over a static texture."""
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (80, 120, 3), dtype=np.uint8), (5, 5), 1.0)
    patch = np.roll(base, 40, axis=0)[20:44, 20:44]
    frames, masks = [], []
    for t in range(4):
        f = base.copy()
        f[20:44, 20 + 3 * t : 44 + 3 * t] = patch
        m = np.zeros((80, 120), bool)
        m[20:44, 20 + 3 * t : 44 + 3 * t] = True
        frames.append(torch.from_numpy(f).permute(2, 0, 1))
        masks.append(torch.from_numpy(m))
    video = torch.stack(frames)

    def exact_flow(a, b):
        flow = torch.zeros(2, 80, 120)
        for t in range(1, 4):
            if torch.equal(a, video[t]) and torch.equal(b, video[t - 1]):
                flow[0][masks[t]] = -3.0
            if torch.equal(a, video[t - 1]) and torch.equal(b, video[t]):
                flow[0][masks[t - 1]] = 3.0
        return flow

    return video, masks, exact_flow


def test_mask_propagation_with_exact_flow_and_occlusion_check():
    video, masks, exact_flow = _patch_clip()
    prop = propagate_masks(masks[0][None], video, exact_flow)
    assert all(torch.equal(p[0], m) for p, m in zip(prop, masks, strict=True))
    # without the forward-backward check the uncovered 3-px strip keeps the patch label
    grown = propagate_masks(masks[0][None], video, exact_flow, consistency=None)
    assert [int(p.sum()) for p in grown] == [576, 648, 720, 792]


def test_mask_propagation_with_dis():
    video, masks, _ = _patch_clip()
    prop = propagate_masks(masks[0][None], video, dis_flow)
    ious = [float(mask_iou(p, m[None])[0]) for p, m in zip(prop, masks, strict=True)]
    assert ious[0] == 1.0 and min(ious) > 0.6, ious  # DIS blurs motion boundaries: masks grow
