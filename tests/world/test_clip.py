"""render_clip: lengths, stable ids, action semantics by motion, no class in one frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seesall.structures import collate
from seesall.world import ACTIONS, WorldConfig, WorldDataset, render_clip, render_scene
from seesall.world.background import make_backdrop
from seesall.world.clip import ACTOR_ID, _distractor_tracks, actor_objects
from seesall.world.scene import LAYOUT, MOTION, rng_for
from seesall.world.things import sample_things

CFG = WorldConfig(size=(64, 64), clip_length=8, num_objects=(1, 3))


def test_clip_shapes_labels_and_stable_ids() -> None:
    s = render_clip(CFG, 2, "spin")
    assert s.video.shape == (8, 3, 64, 64) and s.video.dtype == torch.uint8
    assert s.action == ACTIONS.index("spin")
    assert torch.equal(s.video[0], s.image)
    assert len(s.frame_objects) == 8
    label_of, depth_of = {}, {}
    for o in s.frame_objects:
        for i, label, d in zip(o.ids.tolist(), o.labels.tolist(), o.depth.tolist(), strict=True):
            assert label_of.setdefault(i, label) == label
            assert depth_of.setdefault(i, d) == d
    assert ACTOR_ID in label_of and depth_of[ACTOR_ID] == min(depth_of.values())


def test_clip_length_is_configurable_and_action_drawn_from_seed() -> None:
    cfg = WorldConfig(size=(48, 48), clip_length=16, actions=("left", "right"))
    s = render_clip(cfg, 0)
    assert s.video.shape[0] == 16 and ACTIONS[s.action] in ("left", "right")
    assert {render_clip(cfg, k).action for k in range(12)} == {0, 1}
    assert torch.equal(render_clip(cfg, 3).video, render_clip(cfg, 3).video)


def test_bad_action_names_the_choices() -> None:
    with pytest.raises(ValueError, match="action"):
        render_clip(CFG, 0, "dance")
    with pytest.raises(ValueError, match="action"):
        render_clip(WorldConfig(actions=("left",)), 0, "right")


@pytest.mark.parametrize("seed", range(4))
def test_first_frame_is_the_same_for_every_action(seed: int) -> None:
    clips = [render_clip(CFG, seed, a) for a in ACTIONS]
    for c in clips[1:]:
        assert torch.equal(c.video[0], clips[0].video[0])
        assert torch.equal(c.frame_objects[0].masks, clips[0].frame_objects[0].masks)
        assert torch.equal(c.frame_objects[0].keypoints, clips[0].frame_objects[0].keypoints)
    assert any(not torch.equal(c.video[-1], clips[0].video[-1]) for c in clips[1:])


def _centres_areas(seed: int, action: str) -> tuple[np.ndarray, np.ndarray]:
    boxes = [o.boxes[0].tolist() for o in actor_objects(render_clip(CFG, seed, action))
             if len(o)]
    b = np.array(boxes)
    return (b[:, :2] + b[:, 2:]) / 2, (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


@pytest.mark.parametrize("seed", range(3))
def test_actions_move_the_actor_as_named(seed: int) -> None:
    moves = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}
    for action, (axis, sign) in moves.items():
        c, _ = _centres_areas(seed, action)
        assert sign * (c[-1, axis] - c[0, axis]) > 5, action
    _, a = _centres_areas(seed, "grow")
    assert a[-1] > 1.5 * a[0]
    _, a = _centres_areas(seed, "shrink")
    assert a[-1] < 0.7 * a[0]
    c, _ = _centres_areas(seed, "bounce")
    assert c[:, 1].min() < c[0, 1] - 3 and abs(c[-1, 1] - c[0, 1]) < 3
    c, _ = _centres_areas(seed, "wave")
    assert np.abs(c - c[0]).max() < 6  # the body stays, the arms move


def test_wave_moves_the_arms_only() -> None:
    s = render_clip(CFG, 1, "wave")
    kps = [o.keypoints[o.ids == ACTOR_ID][0] for o in s.frame_objects]
    legs = [9, 10, 11, 12, 8, 1, 0]
    hands = [6, 7]
    assert all(torch.allclose(k[legs], kps[0][legs]) for k in kps)
    assert max((k[hands] - kps[0][hands]).abs().max().item() for k in kps) > 2


def test_kinematogram_first_frame_is_the_background() -> None:
    cfg = WorldConfig(size=(64, 64), clip_length=6, kinematogram=True, num_objects=(2, 3))
    for seed in range(3):
        s = render_clip(cfg, seed, "right")
        bg = make_backdrop(rng_for(seed, LAYOUT), cfg, 0).crop(64, 64)[0][..., :3]  # RGB
        first = s.video[0].permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(first, bg)  # a single frame has no edge
        actor = s.frame_objects[0].masks[s.frame_objects[0].ids == ACTOR_ID][0].numpy()
        assert actor.sum() > 50
        last = s.video[-1].permute(1, 2, 0).numpy()
        assert (last != bg).any(axis=2).mean() > 0.02  # motion reveals it


def test_world_dataset_items_and_collate() -> None:
    ds = WorldDataset("pair", 3, WorldConfig(size=(48, 64)), seed=10)
    assert len(ds) == 3
    assert ds[-1].file_name == "world:pair:12"
    assert torch.equal(ds[1].image2, ds[1].image2)
    from seesall.world import render_pair
    assert torch.equal(ds[0].flow, render_pair(ds.cfg, 10).flow)
    batch = collate([ds[0], ds[1]])
    assert batch.images.shape == (2, 3, 48, 64)
    assert torch.equal(WorldDataset("scene", 2, ds.cfg, 4)[1].image, render_scene(ds.cfg, 5).image)
    assert WorldDataset("clip", 1, CFG)[0].video.shape[0] == 8
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="kind"):
        WorldDataset("movie", 3)


@pytest.mark.parametrize("turn", [0.0, 2.0])
def test_distractors_turn_steadily_at_most_distractor_turn_per_frame(turn: float) -> None:
    cfg = WorldConfig(size=(64, 64), num_objects=(3, 3), distractor_speed=0.0, distractor_turn=turn)
    rng = rng_for(0, LAYOUT)
    things = sample_things(rng, cfg, make_backdrop(rng, cfg, 0), first_id=ACTOR_ID + 1)
    tracks = _distractor_tracks(rng_for(0, MOTION), cfg, things, np.arange(6, dtype=np.float64))
    steps = []
    for track in tracks.values():
        angles = np.degrees([np.arctan2(m[1, 0], m[0, 0]) for m in track])
        assert angles[0] == 0 and np.allclose(np.diff(angles), angles[1])  # a steady turn
        steps.append(abs(angles[1]))
    assert max(steps) <= turn and (max(steps) > 0) == (turn > 0)
