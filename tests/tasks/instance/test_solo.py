"""SOLO targets on hand-made masks, Matrix NMS against a hand computation, model smoke tests."""

from __future__ import annotations

import math

import pytest
import torch

from seesall.tasks.instance.matrix_nms import mask_iou_matrix, matrix_nms
from seesall.tasks.instance.solo_head import cell_masks
from seesall.tasks.instance.solo_loss import SOLOLossConfig, solo_loss
from seesall.tasks.instance.solo_models import (
    DEFAULT_LEVELS,
    FIVE_LEVELS,
    SOLO_MODELS,
    THREE_LEVELS,
    SOLOLevels,
    backbone_features,
)
from seesall.tasks.instance.solo_post import solo_postprocess
from seesall.tasks.instance.solo_targets import SOLOTargetConfig, solo_level_targets

torch.set_num_threads(1)


def _square(y0: int, y1: int, x0: int, x1: int, size: int = 64) -> tuple[torch.Tensor, list]:
    m = torch.zeros(size, size, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m, [float(x0), float(y0), float(x1), float(y1)]


def _targets(squares, cfg):
    masks = torch.stack([s[0] for s in squares])
    boxes = torch.tensor([s[1] for s in squares])
    return solo_level_targets(masks, boxes, (64, 64), cfg)


def test_center_region_cells_by_hand() -> None:
    cfg = SOLOTargetConfig(grids=(8,), scale_ranges=((0.0, 1e5),), sigma=0.2)
    # 16×16 square rows 16..31, cols 8..23: centre (24, 16); ε·h/2 = 1.6
    # rows: ⌊22.4/8⌋=2 .. ⌊25.6/8⌋=3; cols: ⌊14.4/8⌋=1 .. ⌊17.6/8⌋=2
    (owner,) = _targets([_square(16, 32, 8, 24)], cfg)
    assert sorted((owner == 0).nonzero().squeeze(1).tolist()) == [2 * 8 + 1, 2 * 8 + 2,
                                                                  3 * 8 + 1, 3 * 8 + 2]
    assert (owner >= 0).sum() == 4


def test_center_region_is_limited_to_3x3_around_the_centre_cell() -> None:
    cfg = SOLOTargetConfig(grids=(8,), scale_ranges=((0.0, 1e5),), sigma=1.0)
    # 48×48 square centred at (32, 32): region rows 1..7 -> limited to 3..5 (centre cell 4)
    (owner,) = _targets([_square(8, 56, 8, 56)], cfg)
    expected = sorted(i * 8 + j for i in (3, 4, 5) for j in (3, 4, 5))
    assert sorted((owner == 0).nonzero().squeeze(1).tolist()) == expected


def test_scale_ranges_pick_levels_and_later_objects_overwrite() -> None:
    cfg = SOLOTargetConfig(grids=(8, 4), scale_ranges=((0.0, 20.0), (16.0, 100.0)), sigma=0.2)
    small = _square(16, 32, 8, 24)  # sqrt(area) 16: both levels
    big = _square(8, 56, 8, 56)  # 48: level 2 only
    fine, coarse = _targets([small, big], cfg)
    assert set(fine[fine >= 0].tolist()) == {0}
    # level 2 (S=4, cells of 16 px): small -> centre cell (1, 1), region rows 1..1, cols 0..1
    # big -> centre cell (2, 2), rows ⌊27.2/16⌋=1..⌊36.8/16⌋=2, cols 1..2, written last
    assert coarse.view(4, 4)[1, 0] == 0
    assert coarse.view(4, 4)[1:3, 1:3].eq(1).all()
    assert (coarse >= 0).sum() == 5


def test_decoupled_cell_mask_is_the_product_of_row_and_column_maps() -> None:
    s = 3
    mx, my = torch.randn(1, s, 5, 5), torch.randn(1, s, 5, 5)
    out = {"cate": [torch.zeros(1, 2, s, s)], "mask_x": [mx], "mask_y": [my]}
    got = cell_masks(out, 0, torch.tensor([0]), torch.tensor([1 * s + 2]), s)
    torch.testing.assert_close(got[0], my[0, 1].sigmoid() * mx[0, 2].sigmoid())
    vanilla = {"cate": [torch.zeros(1, 2, s, s)], "mask": [torch.randn(1, s * s, 5, 5)]}
    got = cell_masks(vanilla, 0, torch.tensor([0]), torch.tensor([7]), s)
    torch.testing.assert_close(got[0], vanilla["mask"][0][0, 7].sigmoid())


def _line_masks() -> torch.Tensor:
    m = torch.zeros(4, 1, 10, dtype=torch.bool)
    m[0, 0, 0:4] = True  # A, score .9
    m[1, 0, 0:2] = True  # B, score .8: IoU(A, B) = 2/4
    m[2, 0, 2:6] = True  # C, score .7: IoU(A, C) = 2/6, IoU(B, C) = 0
    m[3, 0, 0:4] = True  # D, other class, score .6
    return m


@pytest.mark.parametrize("perm", [[0, 1, 2, 3], [3, 1, 0, 2]])
def test_matrix_nms_by_hand(perm: list[int]) -> None:
    masks, labels = _line_masks(), torch.tensor([0, 0, 0, 1])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    p = torch.tensor(perm)
    g = matrix_nms(masks[p], labels[p], scores[p], kernel="gaussian", sigma=2.0)
    # B: f(.5)/f(0) = e^{-0.5}; C: min(f(1/3)/f(0), f(0)/f(.5)) = e^{-2/9}
    expected = torch.tensor([0.9, 0.8 * math.exp(-0.5), 0.7 * math.exp(-2 / 9), 0.6])
    torch.testing.assert_close(g, expected[p])
    lin = matrix_nms(masks[p], labels[p], scores[p], kernel="linear")
    # B: 1 - .5; C: min((1 - 1/3) / 1, 1 / (1 - .5)) = 2/3
    torch.testing.assert_close(lin, torch.tensor([0.9, 0.4, 0.7 * 2 / 3, 0.6])[p])


def test_mask_iou_matrix_matches_sets() -> None:
    iou = mask_iou_matrix(_line_masks())
    assert iou[0, 1] == pytest.approx(0.5) and iou[0, 2] == pytest.approx(1 / 3)
    assert iou[1, 2] == 0 and iou[0, 3] == 1


@pytest.mark.parametrize("name", ["solo_tiny"])
@pytest.mark.parametrize("mode", ["vanilla", "decoupled"])
@pytest.mark.parametrize("levels", [FIVE_LEVELS, THREE_LEVELS], ids=["five", "three"])
def test_solo_forward_backward_postprocess(name: str, mode: str, levels: SOLOLevels) -> None:
    model = SOLO_MODELS[name](num_classes=3, mask_mode=mode, levels=levels)
    out = model(torch.randn(2, 3, 64, 64))
    masks = torch.zeros(2, 2, 64, 64, dtype=torch.bool)
    masks[:, 0, 10:30, 10:30] = True
    masks[:, 1, 30:60, 20:60] = True
    boxes = torch.tensor([[10.0, 10, 30, 30], [20, 30, 60, 60]])
    losses = solo_loss(out, list(masks), [torch.tensor([0, 2])] * 2, [boxes] * 2,
                       SOLOLossConfig(targets=levels.targets))
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    preds = solo_postprocess(out, grids=model.head.grids, strides=model.strides,
                             padded_size=(64, 64), image_sizes=[(64, 64), (60, 50)])
    assert preds[1].canvas_size == (60, 50)


def test_postprocess_maps_a_confident_cell_back_to_the_image() -> None:
    s = 4
    cate = torch.full((1, 2, s, s), -10.0)
    cate[0, 1, 1, 2] = 10.0  # class 1 at cell (1, 2)
    mask = torch.full((1, s * s, 16, 16), -10.0)  # mask map at stride 2 of a 32×32 image
    mask[0, 1 * s + 2, 4:8, 8:12] = 10.0
    preds = solo_postprocess({"cate": [cate], "mask": [mask]}, grids=(s,), strides=(4,),
                             padded_size=(32, 32), image_sizes=[(32, 32)])
    (p,) = preds
    assert p.labels.tolist() == [1] and p.scores[0] > 0.99
    expected = torch.zeros(32, 32, dtype=torch.bool)
    expected[8:16, 16:24] = True
    got = p.masks[0].as_subclass(torch.Tensor)
    assert (got & expected).sum() / (got | expected).sum() > 0.75
    torch.testing.assert_close(p.boxes[0].as_subclass(torch.Tensor),
                               torch.tensor([16.0, 8.0, 24.0, 16.0]), atol=1.5, rtol=0)


PAPER_GRIDS = (40, 36, 24, 16, 12)
PAPER_RANGES = ((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048))


def test_five_levels_follow_the_paper_scaled_to_world_images() -> None:
    assert FIVE_LEVELS.names == ("p2", "p3", "p4", "p5", "p6")
    assert FIVE_LEVELS.strides == (8, 8, 16, 32, 32)  # P2 halved, P6 at P5's size
    assert FIVE_LEVELS.targets.grids == tuple(round(0.6 * s) for s in PAPER_GRIDS)
    ranges = FIVE_LEVELS.targets.scale_ranges
    assert [hi for _, hi in ranges[:4]] == [hi / 6 for _, hi in PAPER_RANGES[:4]]
    assert [lo for lo, _ in ranges[1:]] == [lo / 6 for lo, _ in PAPER_RANGES[1:]]
    assert DEFAULT_LEVELS == FIVE_LEVELS  # the table's default
    assert backbone_features(FIVE_LEVELS) == ("c2", "c3", "c4", "c5")
    assert backbone_features(THREE_LEVELS) == ("c3", "c4", "c5")


@pytest.mark.parametrize("levels", [FIVE_LEVELS, THREE_LEVELS], ids=["five", "three"])
def test_solo_level_shapes(levels: SOLOLevels) -> None:
    model = SOLO_MODELS["solo_tiny"](num_classes=3, levels=levels)
    assert model.levels == levels.names and model.strides == levels.strides
    out = model(torch.randn(1, 3, 64, 96))
    for level, (s, stride) in enumerate(zip(levels.targets.grids, levels.strides, strict=True)):
        assert out["cate"][level].shape == (1, 3, s, s)
        # the mask branch is upsampled ×2: maps at half the level's stride
        assert out["mask_x"][level].shape == (1, s, 2 * 64 // stride, 2 * 96 // stride)


def test_solo_levels_are_checked() -> None:
    model = SOLO_MODELS["solo_tiny"](num_classes=3, levels=FIVE_LEVELS)
    out = model(torch.randn(1, 3, 64, 64))
    masks, boxes = torch.zeros(1, 64, 64, dtype=torch.bool), torch.tensor([[0.0, 0, 8, 8]])
    masks[0, :8, :8] = True
    with pytest.raises(ValueError, match="grids"):
        solo_loss(out, [masks], [torch.tensor([0])], [boxes],
                  SOLOLossConfig(targets=THREE_LEVELS.targets))
    with pytest.raises(ValueError, match="one entry per level"):
        SOLOLevels(names=("p3", "p4"), strides=(8, 16), targets=THREE_LEVELS.targets)
    with pytest.raises(ValueError, match="p7"):
        SOLOLevels(names=("p5", "p7"), strides=(32, 128),
                   targets=SOLOTargetConfig(grids=(4, 2), scale_ranges=((0, 1), (1, 2))))


@pytest.mark.parametrize("levels", [FIVE_LEVELS, THREE_LEVELS], ids=["five", "three"])
def test_segmenter_loss_follows_its_level_set(levels: SOLOLevels) -> None:
    """The table's SOLO segmenters build their loss from the model's own level set."""
    from seesall.nn.backbones import normalize_image
    from seesall.tasks.instance.models import INSTANCE_MODELS
    from seesall.world import WorldConfig, render_scene

    seg = INSTANCE_MODELS["solo_tiny"](num_classes=8, levels=levels)
    scene = render_scene(WorldConfig(size=(64, 64)), 0)
    images = normalize_image(scene.image.as_subclass(torch.Tensor)[None])
    losses = seg.criterion(seg.model(images), [scene.objects])
    assert all(torch.isfinite(v) for v in losses.values())
