"""Box coder, anchors, matcher and samplers against torchvision and hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection import _utils as tv_utils

from seesall.ops.anchors import AnchorGenerator
from seesall.ops.boxes import BoxCoder, convert_boxes
from seesall.ops.matching import BELOW_LOW, BETWEEN, Matcher, balanced_sample, ohem_sample


def random_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 60 + 2
    return torch.cat([xy, xy + wh], dim=1)


def test_convert_boxes() -> None:
    xyxy = torch.tensor([[10.0, 20.0, 40.0, 60.0]])
    assert convert_boxes(xyxy, "xyxy", "xywh").tolist() == [[10, 20, 30, 40]]
    assert convert_boxes(xyxy, "xyxy", "cxcywh").tolist() == [[25, 40, 30, 40]]
    boxes = random_boxes(7, 0).reshape(7, 1, 4)
    back = convert_boxes(convert_boxes(boxes, "xyxy", "cxcywh"), "cxcywh", "xyxy")
    torch.testing.assert_close(back, boxes)
    with pytest.raises(ValueError, match="in_fmt"):
        convert_boxes(xyxy, "yxyx", "xyxy")  # type: ignore[arg-type]


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_box_coder_round_trip_and_torchvision(weights: tuple[float, ...]) -> None:
    anchors, gt = random_boxes(50, 1), random_boxes(50, 2)
    coder = BoxCoder(weights)
    deltas = coder.encode(gt, anchors)
    torch.testing.assert_close(coder.decode(deltas, anchors), gt, atol=1e-3, rtol=1e-5)
    ref = tv_utils.BoxCoder(weights)
    torch.testing.assert_close(deltas, ref.encode_single(gt, anchors), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(coder.decode(deltas, anchors),
                               ref.decode_single(deltas, anchors), atol=1e-4, rtol=1e-5)
    # per-class deltas (N, 4K) decode each group of 4 against the same reference
    multi = coder.decode(torch.cat([deltas, 0 * deltas], dim=1), anchors)
    torch.testing.assert_close(multi[:, 4:], anchors)


def test_box_coder_clamps_size() -> None:
    coder = BoxCoder()
    out = coder.decode(torch.tensor([[0.0, 0.0, 100.0, 100.0]]), torch.tensor([[0.0, 0, 10, 10]]))
    assert torch.isfinite(out).all()
    assert out[0, 2] - out[0, 0] == pytest.approx(10 * 1000 / 16, rel=1e-4)


def test_anchor_counts_per_level() -> None:
    gen = AnchorGenerator(strides=(8, 16, 32, 64, 128))
    sizes = [(40, 48), (20, 24), (10, 12), (5, 6), (3, 3)]  # a 320x384 image
    anchors = gen(sizes)
    assert gen.num_anchors_per_location == 9
    assert [a.shape[0] for a in anchors] == [40 * 48 * 9, 20 * 24 * 9, 10 * 12 * 9,
                                            5 * 6 * 9, 3 * 3 * 9]
    first = anchors[0][:9]  # the nine anchors of cell (0, 0) at stride 8, centred at (4, 4)
    centres = (first[:, :2] + first[:, 2:]) / 2
    torch.testing.assert_close(centres, torch.full((9, 2), 4.0))
    wh = first[:, 2:] - first[:, :2]
    areas = (wh[:, 0] * wh[:, 1]).tolist()
    expected = [(32 * s) ** 2 for s in (1, 2 ** (1 / 3), 2 ** (2 / 3))] * 3
    assert areas == pytest.approx(expected, rel=1e-5)
    assert (wh[:, 1] / wh[:, 0]).tolist() == pytest.approx([0.5] * 3 + [1.0] * 3 + [2.0] * 3)
    # the second cell of the row is one stride to the right
    torch.testing.assert_close(anchors[0][9:18] - first, torch.tensor([[8.0, 0, 8, 0]] * 9))


def test_matcher_hand_made() -> None:
    iou = torch.tensor([[0.9, 0.5, 0.1, 0.0, 0.3],
                        [0.2, 0.6, 0.35, 0.0, 0.3]])
    plain = Matcher(high=0.5, low=0.4, allow_low_quality=False)(iou)
    assert plain.tolist() == [0, 1, BELOW_LOW, BELOW_LOW, BELOW_LOW]
    m = Matcher(high=0.7, low=0.3, allow_low_quality=False)(iou)
    assert m.tolist() == [0, BETWEEN, BETWEEN, BELOW_LOW, BETWEEN]
    lq = Matcher(high=0.7, low=0.3, allow_low_quality=True)(iou)
    assert lq.tolist() == [0, 1, BETWEEN, BELOW_LOW, BETWEEN]  # box 1 keeps its best anchor
    assert Matcher(high=0.5, low=0.4, allow_low_quality=True)(torch.zeros(0, 3)).tolist() == [-1] * 3


def test_matcher_equals_torchvision_on_random_ious() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        iou = torch.rand(6, 200, generator=g) ** 2
        for lq in (False, True):
            ours = Matcher(high=0.7, low=0.3, allow_low_quality=lq)(iou)
            ref = tv_utils.Matcher(0.7, 0.3, allow_low_quality_matches=lq)(iou)
            assert torch.equal(ours, ref)


def test_balanced_sampler_ratios() -> None:
    labels = torch.tensor([1] * 300 + [0] * 2000 + [-1] * 100)
    pos, neg = balanced_sample(labels, batch_size=256, positive_fraction=0.25,
                               generator=torch.Generator().manual_seed(0))
    assert int(pos.sum()) == 64 and int(neg.sum()) == 192
    assert (labels[pos] == 1).all() and (labels[neg] == 0).all()
    few = torch.tensor([1] * 10 + [0] * 2000)
    pos, neg = balanced_sample(few, batch_size=256, positive_fraction=0.5)
    assert int(pos.sum()) == 10 and int(neg.sum()) == 246  # negatives fill the batch


def test_ohem_keeps_hardest_negatives() -> None:
    labels = torch.tensor([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1])
    losses = torch.tensor([0.1, 0.2, 5.0, 0.1, 3.0, 0.3, 4.0, 0.2, 9.0, 0.0, 99.0])
    pos, neg = ohem_sample(labels, losses, neg_pos_ratio=1.5, min_negatives=0)
    assert pos.tolist() == [True, True] + [False] * 9
    assert torch.nonzero(neg).flatten().tolist() == [2, 6, 8]  # 3 = 1.5 * 2 hardest, not -1
    _, neg = ohem_sample(torch.zeros(20, dtype=torch.int64), torch.rand(20), min_negatives=4)
    assert int(neg.sum()) == 4


def test_fpn_reads_backbone_specs() -> None:
    from seesall.nn.backbones import fastnet_tiny
    from seesall.nn.fpn import FPN

    bb = fastnet_tiny(out_features=("c3", "c4", "c5"))
    fpn = FPN(in_specs=bb.feature_specs, out_channels=32, extra="p6p7")
    out = fpn(bb(torch.randn(1, 3, 128, 96)))
    assert list(out) == ["p3", "p4", "p5", "p6", "p7"]
    assert [s.stride for s in fpn.feature_specs] == [8, 16, 32, 64, 128]
    for spec, x in zip(fpn.feature_specs, out.values(), strict=True):
        assert x.shape == (1, 32, math.ceil(128 / spec.stride), math.ceil(96 / spec.stride))
    mp = FPN(in_specs=bb.feature_specs, out_channels=16, extra="maxpool")
    assert [s.name for s in mp.feature_specs] == ["p3", "p4", "p5", "p6"]
    assert list(mp(bb(torch.randn(1, 3, 64, 64)))) == ["p3", "p4", "p5", "p6"]
