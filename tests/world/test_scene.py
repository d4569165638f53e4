"""render_scene: determinism, validity and label consistency, checked against pycocotools."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from seesall.structures import IGNORE_INDEX, Scene
from seesall.world import (
    PERSON_KEYPOINTS,
    SEMANTIC_CLASSES,
    STUFF_CLASSES,
    THING_CLASSES,
    WorldConfig,
    render_scene,
)
from seesall.world.geometry import outline, rasterise
from seesall.world.labels import to_image
from seesall.world.scene import layout

CFG = WorldConfig(size=(96, 112), num_objects=(3, 8))
SEEDS = range(12)


def _bytes(s: Scene) -> bytes:
    o = s.objects
    parts = [s.image, s.semantic, s.depth, o.labels, o.boxes, o.masks, o.keypoints, o.visibility,
             o.ids, o.depth]
    return b"".join(p.as_subclass(torch.Tensor).numpy().tobytes() for p in parts)


def test_same_seed_same_bytes_different_seed_different() -> None:
    assert _bytes(render_scene(CFG, 7)) == _bytes(render_scene(CFG, 7))
    assert _bytes(render_scene(CFG, 7)) != _bytes(render_scene(CFG, 8))


def test_same_bytes_in_a_fresh_process() -> None:
    """No hidden state (global RNG, hash order, caches) changes the output."""
    code = ("import hashlib, torch; from seesall.world import WorldConfig, render_scene; "
            "s = render_scene(WorldConfig(size=(96, 112), num_objects=(3, 8)), 7); "
            "print(hashlib.sha256(s.image.numpy().tobytes() + s.objects.masks.numpy().tobytes()"
            ").hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    s = render_scene(CFG, 7)
    expected = hashlib.sha256(s.image.numpy().tobytes() + s.objects.masks.numpy().tobytes())
    assert out.stdout.strip() == expected.hexdigest()


def test_scene_fields_and_types() -> None:
    s = render_scene(CFG, 3)
    h, w = CFG.size
    assert s.image.shape == (3, h, w) and s.image.dtype == torch.uint8
    assert s.semantic.shape == (h, w) and s.semantic.dtype == torch.int64
    assert s.depth.shape == (h, w) and s.depth.dtype == torch.float32
    o = s.objects
    assert o.keypoints.shape == (len(o), len(PERSON_KEYPOINTS), 2)
    assert o.masks.dtype == torch.bool and o.masks.shape == (len(o), h, w)
    s.validate()
    assert len(SEMANTIC_CLASSES) == len(STUFF_CLASSES) + len(THING_CLASSES)


@pytest.mark.parametrize("seed", SEEDS)
def test_boxes_are_pycocotools_tight_boxes_of_visible_masks(seed: int) -> None:
    o = render_scene(CFG, seed).objects
    for mask, box in zip(o.masks.numpy(), o.boxes.numpy(), strict=True):
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        x, y, bw, bh = mask_utils.toBbox(rle)
        np.testing.assert_array_equal(box, [x, y, x + bw, y + bh])
        assert mask.sum() >= CFG.min_visible_area


@pytest.mark.parametrize("seed", SEEDS)
def test_semantic_map_agrees_with_masks(seed: int) -> None:
    s = render_scene(CFG, seed)
    sem, masks = s.semantic.numpy(), s.objects.masks.numpy()
    assert (masks.sum(0) <= 1).all(), "visible masks overlap"
    for m, label in zip(masks, s.objects.labels.tolist(), strict=True):
        assert (sem[m] == len(STUFF_CLASSES) + label).all()
    thing_px = (sem >= len(STUFF_CLASSES)) & (sem != IGNORE_INDEX)
    np.testing.assert_array_equal(thing_px, masks.any(0))
    assert ((sem < len(SEMANTIC_CLASSES)) | (sem == IGNORE_INDEX)).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_depth_map_and_depth_order_agree_with_occlusion(seed: int) -> None:
    s = render_scene(CFG, seed)
    depth, o = s.depth.numpy(), s.objects
    for m, d in zip(o.masks.numpy(), o.depth.tolist(), strict=True):
        np.testing.assert_allclose(depth[m], d)
    # Outside the labelled masks the surface is stuff (farther than every object), except
    # where a dropped object (too few visible pixels: semantic IGNORE_INDEX) shows.
    free = ~o.masks.numpy().any(0) & (s.semantic.numpy() != IGNORE_INDEX)
    assert (depth[free] > o.depth.max().item() if len(o) else True).all()
    # Where an object's full (amodal) shape is hidden, the visible surface is nearer.
    _, things = layout(CFG, seed)
    for t in things:
        filled = rasterise(t.label, outline(t.label, t.pose, t.angles)[0], CFG.size)
        if filled is None:
            continue
        x0, y0, m = filled
        amodal = np.zeros(CFG.size, bool)
        amodal[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = m.astype(bool)
        assert (depth[amodal] <= t.depth + 1e-6).all()
        if (o.ids == t.track_id).any():
            visible = o.masks[o.ids == t.track_id][0].numpy()
            assert not (visible & ~amodal).any()
            hidden = amodal & ~visible
            assert (depth[hidden] < t.depth).all()


@pytest.mark.parametrize("seed", range(8))
def test_keypoints_visible_inside_own_mask(seed: int) -> None:
    cfg = WorldConfig(size=(80, 80), num_objects=(3, 6), classes=("person", "square"),
                      min_size=16)
    s = render_scene(cfg, seed)
    o = s.objects
    h, w = cfg.size
    for label, m, kp, vis in zip(o.labels.tolist(), o.masks.numpy(), o.keypoints.numpy(),
                                 o.visibility.numpy(), strict=True):
        if THING_CLASSES[label] != "person":
            assert (vis == 0).all() and (kp == 0).all()
            continue
        for (x, y), v in zip(kp, vis, strict=True):
            inside = 0 <= x < w and 0 <= y < h
            if v == 0:
                assert (x, y) == (0, 0)
            else:
                assert inside
                assert m[int(np.floor(y)), int(np.floor(x))] == (v == 2)


def test_keypoints_outside_image_have_visibility_zero() -> None:
    cfg = WorldConfig(size=(48, 48), num_objects=(4, 4), classes=("person",), min_size=20,
                      max_size=40, min_visible_area=1)
    found = 0
    for seed in range(20):
        backdrop, things = layout(cfg, seed)
        o = render_scene(cfg, seed).objects
        for t in things:
            if not (o.ids == t.track_id).any():
                continue
            kp = outline(t.label, t.pose, t.angles)[1] + 0.5
            vis = o.visibility[o.ids == t.track_id][0].numpy()
            out = (kp[:, 0] < 0) | (kp[:, 0] >= 48) | (kp[:, 1] < 0) | (kp[:, 1] >= 48)
            assert (vis[out] == 0).all() and (vis[~out] > 0).all()
            found += int(out.sum())
    assert found > 0


def test_photo_backgrounds_have_ignored_stuff() -> None:
    cfg = WorldConfig(size=(64, 64), photo_backgrounds=1.0, num_objects=(0, 0))
    s = render_scene(cfg, 0)
    assert (s.semantic == IGNORE_INDEX).all()
    assert s.image.float().std() > 5


def test_object_sizes_follow_config() -> None:
    cfg = WorldConfig(size=(128, 128), num_objects=(8, 8), min_size=8, max_size=20,
                      classes=("circle",))
    for seed in range(4):
        b = render_scene(cfg, seed).objects.boxes
        assert ((b[:, 2:] - b[:, :2]) <= 22).all()


@pytest.mark.parametrize("field,kwargs", [
    ("size", {"size": (8, 64)}),
    ("classes", {"classes": ("dragon",)}),
    ("num_objects", {"num_objects": (5, 2)}),
    ("actions", {"actions": ("wave",), "actor_classes": ("circle",)}),
    ("photo_backgrounds", {"photo_backgrounds": 2.0}),
    ("max_shift", {"max_shift": -0.1}),
    ("clip_length", {"clip_length": 1}),
])
def test_bad_config_names_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(ValueError, match=field):
        WorldConfig(**kwargs)


def test_image_conversion_keeps_channels() -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_image(array).numpy(), array.transpose(2, 0, 1))


def test_bad_seed() -> None:
    with pytest.raises(ValueError, match="seed"):
        render_scene(CFG, -1)
