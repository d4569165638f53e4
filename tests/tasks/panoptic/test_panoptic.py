"""Panoptic merge and PQ/SQ/RQ on hand-made maps."""

from __future__ import annotations

import pytest
import torch

from seesall.tasks.panoptic import MergeConfig, PanopticQuality, Segment, merge_panoptic


def test_merge_by_score_without_overlaps() -> None:
    semantic = torch.zeros(4, 6, dtype=torch.long)  # stuff class 0 everywhere ...
    semantic[:, 4:] = 1  # ... and stuff class 1 in the last two columns
    masks = torch.zeros(3, 4, 6, dtype=torch.bool)
    masks[0, 0:2, 0:3] = True  # score 0.6
    masks[1, 0:2, 1:4] = True  # score 0.9: placed first
    masks[2, 0:2, 1:3] = True  # score 0.8: entirely covered by instance 1 -> dropped
    pan, segs = merge_panoptic(semantic=semantic, masks=masks, labels=torch.tensor([0, 1, 0]),
                               scores=torch.tensor([0.6, 0.9, 0.8]), num_stuff=2,
                               cfg=MergeConfig(overlap_threshold=0.7, min_stuff_area=1))
    # instance 0 has 4 of its 6 pixels taken (2/3 <= 0.7): it keeps the 2 free ones
    expected = torch.tensor([[2, 1, 1, 1, 4, 4],
                             [2, 1, 1, 1, 4, 4],
                             [3, 3, 3, 3, 4, 4],
                             [3, 3, 3, 3, 4, 4]])
    assert torch.equal(pan, expected)
    assert [(s.id, s.category_id, s.isthing) for s in segs] == [
        (1, 3, True), (2, 2, True), (3, 0, False), (4, 1, False)]
    # instance 0 keeps 2 of its 6 pixels (2/3 covered > 0.5): dropped at the default threshold
    pan2, segs2 = merge_panoptic(semantic=semantic, masks=masks, labels=torch.tensor([0, 1, 0]),
                                 scores=torch.tensor([0.6, 0.9, 0.8]), num_stuff=2,
                                 cfg=MergeConfig(overlap_threshold=0.5, min_stuff_area=1))
    assert [s.category_id for s in segs2 if s.isthing] == [3]
    assert pan2[0, 0] == 2 and segs2[1] == Segment(2, 0, False)  # stuff 0 takes its pixels


def test_merge_score_threshold_and_small_stuff() -> None:
    semantic = torch.zeros(4, 4, dtype=torch.long)
    semantic[0, 0] = 1  # one pixel of stuff 1: below min_stuff_area
    masks = torch.ones(1, 4, 4, dtype=torch.bool)
    pan, segs = merge_panoptic(semantic=semantic, masks=masks, labels=torch.tensor([0]),
                               scores=torch.tensor([0.3]), num_stuff=2,
                               cfg=MergeConfig(min_stuff_area=2))
    assert [s.category_id for s in segs] == [0] and pan[0, 0] == 0 and (pan[1:] == 1).all()


def _pq(gt, gsegs, pred, psegs, cats):
    m = PanopticQuality(cats)
    m.update(torch.tensor(gt), gsegs, torch.tensor(pred), psegs)
    return m.compute()


def test_pq_by_hand() -> None:
    cats = {0: False, 1: True}
    gt = [[1, 1, 1, 1],
          [1, 1, 1, 1],
          [2, 2, 3, 3],
          [2, 2, 3, 3]]
    gsegs = [Segment(1, 0, False), Segment(2, 1, True), Segment(3, 1, True)]
    pred = [[1, 1, 1, 1],
            [1, 1, 1, 1],
            [1, 2, 4, 4],
            [2, 2, 0, 0]]
    psegs = [Segment(1, 0, False), Segment(2, 1, True), Segment(4, 1, True)]
    out = _pq(gt, gsegs, pred, psegs, cats)
    # stuff 0: gt 8 px, pred 9 px, inter 8 -> IoU 8/9, TP
    # thing gt 2 (4 px) vs pred 2 (3 px): inter 3, IoU 3/4 -> TP
    # thing gt 3 (4 px) vs pred 4 (2 px): inter 2; void pixels of pred 4: 0 -> IoU 2/4, not > .5
    #   -> gt 3 is FN, pred 4 is FP (it has no void pixels)
    assert out["per_class"][0] == pytest.approx({"PQ": 8 / 9, "SQ": 8 / 9, "RQ": 1.0})
    th_pq = 0.75 / (1 + 0.5 + 0.5)
    assert out["per_class"][1] == pytest.approx({"PQ": th_pq, "SQ": 0.75, "RQ": 0.5})
    assert out["PQ"] == pytest.approx((8 / 9 + th_pq) / 2)
    assert out["PQ_th"] == pytest.approx(th_pq) and out["PQ_st"] == pytest.approx(8 / 9)


def test_void_is_left_out_of_the_union_and_mostly_void_predictions_are_not_fp() -> None:
    cats = {0: True}
    gt = [[1, 1, 0, 0]]  # two void pixels
    pred = [[1, 1, 1, 2]]  # pred 1 spills onto one void pixel; pred 2 lies on void only
    out = _pq(gt, [Segment(1, 0, True)], pred, [Segment(1, 0, True), Segment(2, 0, True)], cats)
    # IoU = 2 / (3 + 2 - 2 - 1) = 1; pred 2 is ignored (all void)
    assert out["per_class"][0] == pytest.approx({"PQ": 1.0, "SQ": 1.0, "RQ": 1.0})


def test_crowd_regions() -> None:
    cats = {0: True}
    gt = [[1, 1, 2, 2, 2]]
    gsegs = [Segment(1, 0, True), Segment(2, 0, True, iscrowd=True)]
    pred = [[1, 1, 3, 3, 4]]
    psegs = [Segment(1, 0, True), Segment(3, 0, True), Segment(4, 0, True)]
    out = _pq(gt, gsegs, pred, psegs, cats)
    # pred 1 matches gt 1; the crowd gt is never a FN and never matched; preds 3 and 4 lie
    # on the crowd region of their category -> not FP
    assert out["per_class"][0] == pytest.approx({"PQ": 1.0, "SQ": 1.0, "RQ": 1.0})
    # a prediction of another category on the crowd is a FP
    cats2 = {0: True, 1: True}
    out2 = _pq(gt, gsegs, pred, [Segment(1, 0, True), Segment(3, 1, True), Segment(4, 0, True)],
               cats2)
    assert out2["per_class"][1] == pytest.approx({"PQ": 0.0, "SQ": 0.0, "RQ": 0.0})


def test_unknown_segment_id_is_an_error() -> None:
    with pytest.raises(ValueError, match="segment id 5"):
        _pq([[1]], [Segment(1, 0, True)], [[5]], [], {0: True})


def test_eval_panoptic_cli_on_png_files(tmp_path) -> None:
    import json

    import numpy as np
    from PIL import Image

    from seesall.cli.main import main
    from seesall.tasks.panoptic.cli import id_to_rgb

    gt = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]) * 300  # ids > 255
    pred = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 2, 4, 4], [2, 2, 0, 0]]) * 300
    for name, arr in (("gt", gt), ("pred", pred)):
        (tmp_path / name).mkdir()
        Image.fromarray(id_to_rgb(arr)).save(tmp_path / name / "a.png")
    cats = [{"id": 0, "isthing": 0}, {"id": 1, "isthing": 1}]
    seg = lambda i, c: {"id": i * 300, "category_id": c, "iscrowd": 0}  # noqa: E731
    (tmp_path / "gt.json").write_text(json.dumps({"categories": cats, "annotations": [
        {"image_id": 1, "file_name": "a.png", "segments_info": [seg(1, 0), seg(2, 1), seg(3, 1)]}]}))
    (tmp_path / "pred.json").write_text(json.dumps({"annotations": [
        {"image_id": 1, "file_name": "a.png", "segments_info": [seg(1, 0), seg(2, 1), seg(4, 1)]}]}))
    out = tmp_path / "m.json"
    assert main(["eval", "panoptic", "--gt", str(tmp_path / "gt.json"), "--gt-dir",
                 str(tmp_path / "gt"), "--pred", str(tmp_path / "pred.json"), "--pred-dir",
                 str(tmp_path / "pred"), "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    th_pq = 0.75 / 2
    assert m["PQ"] == pytest.approx((8 / 9 + th_pq) / 2) and m["PQ_th"] == pytest.approx(th_pq)
