"""render_clip: T frames whose action class is defined by the actor's motion only.

The actor (track id 1, the nearest object, a person by default) starts at a
position, size, rotation, pose and texture drawn from one distribution for all
classes, from a random stream the action never touches: the first frame of a
clip is the same image whatever the action, so no single first frame can reveal
the class. The action then shapes the motion only:

* left / right / up / down: steady translation by 20-35 % of the image side;
* spin: rotation by 90-360 degrees, either direction;
* grow / shrink: scale by 1.5-2x / 0.5-0.67x;
* bounce: 2-3 hops up and back down (|sin| trajectory);
* wave: the person's arm(s) swing up and down 2-3 times while the body stays.

Distractors (``WorldConfig.num_objects`` of them) drift and turn slowly at
random (up to ``distractor_speed`` and ``distractor_turn`` per frame), the same
for every class. The background stays still. With ``WorldConfig.kinematogram`` every object wears the
background's random dots, so that it is visible only while it moves.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision import tv_tensors

from seesall.structures import Objects, Scene
from seesall.world.background import make_backdrop
from seesall.world.classes import ACTIONS, THING_CLASSES
from seesall.world.config import WorldConfig
from seesall.world.geometry import about
from seesall.world.labels import frame_objects, to_image
from seesall.world.render import paint_frame
from seesall.world.scene import ACTION, ACTOR, LAYOUT, MOTION, rng_for, scene_from_frame
from seesall.world.things import Thing, sample_thing, sample_things

ACTOR_ID = 1
"""Track id of the clip's actor."""


def _action_index(cfg: WorldConfig, seed: int, action: int | str | None) -> int:
    if action is None:
        rng = rng_for(seed, ACTION)
        return ACTIONS.index(cfg.actions[int(rng.integers(len(cfg.actions)))])
    index = ACTIONS.index(action) if isinstance(action, str) and action in ACTIONS else action
    if not isinstance(index, int) or not 0 <= index < len(ACTIONS) \
            or ACTIONS[index] not in cfg.actions:
        raise ValueError(f"action must be one of WorldConfig.actions {list(cfg.actions)} "
                         f"(by name or index into ACTIONS), got {action!r}")
    return index


def _actor_track(rng: np.random.Generator, action: str, actor: Thing, cfg: WorldConfig,
                 t: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Per-frame image-space motions (3x3) and limb angles of the actor; p = t / (T - 1)."""
    side = min(cfg.size)
    p = t / (len(t) - 1)
    dx, dy, angle, log_scale = (np.zeros_like(p) for _ in range(4))
    dist = rng.uniform(0.2, 0.35) * side
    if action in ("left", "right"):
        dx = (-dist if action == "left" else dist) * p
    elif action in ("up", "down"):
        dy = (-dist if action == "up" else dist) * p
    elif action == "spin":
        angle = rng.choice([-1.0, 1.0]) * rng.uniform(math.pi / 2, 2 * math.pi) * p
    elif action in ("grow", "shrink"):
        g = rng.uniform(1.5, 2.0)
        log_scale = (1 if action == "grow" else -1) * math.log(g) * p
    elif action == "bounce":
        hops = int(rng.integers(2, 4))
        dy = -rng.uniform(0.12, 0.22) * side * np.abs(np.sin(math.pi * hops * p))
    angles: list[np.ndarray | None] = [actor.angles] * len(t)
    if action == "wave":
        swings = int(rng.integers(2, 4))
        arms = [[0], [1], [0, 1]][int(rng.integers(3))]
        amp = rng.uniform(0.6, 1.1)
        angles = []
        for pk in p:
            a = actor.angles.copy()
            a[arms] += amp * math.sin(2 * math.pi * swings * pk)
            a[[2 + k for k in arms]] += 0.5 * amp * math.sin(2 * math.pi * swings * pk)
            angles.append(a)
    c = actor.centre
    motions = [about(c, float(a), math.exp(s), (float(x), float(y)))
               for x, y, a, s in zip(dx, dy, angle, log_scale, strict=True)]
    return motions, angles


def _distractor_tracks(rng: np.random.Generator, cfg: WorldConfig, things: list[Thing],
                       t: np.ndarray) -> dict[int, list[np.ndarray]]:
    """Slow random drift and turn of every distractor, per frame (3x3 motions)."""
    speed = cfg.distractor_speed * min(cfg.size)
    tracks = {}
    for thing in sorted(things, key=lambda th: th.track_id):
        v = rng.uniform(-speed, speed, 2)
        omega = math.radians(rng.uniform(-cfg.distractor_turn, cfg.distractor_turn))
        tracks[thing.track_id] = [about(thing.centre, omega * k, 1.0, (v[0] * k, v[1] * k))
                                  for k in t]
    return tracks


def render_clip(cfg: WorldConfig, seed: int, action: int | str | None = None) -> Scene:
    """A clip of ``cfg.clip_length`` frames showing ``action`` (drawn from the seed if None).

    Returns:
        Scene with image (the first frame) and its objects, semantic and depth maps,
        video (Video[T, 3, H, W] uint8), frame_objects (one Objects per frame, track ids
        stable; the actor has id 1) and action (index into ``ACTIONS``).
    """
    index = _action_index(cfg, seed, action)
    h, w = cfg.size
    rng = rng_for(seed, LAYOUT)
    backdrop = make_backdrop(rng, cfg, 0)
    side = min(h, w)
    actor = sample_thing(
        rng, cfg, backdrop, ACTOR_ID,
        label=THING_CLASSES.index(cfg.actor_classes[int(rng.integers(len(cfg.actor_classes)))]),
        centre=(rng.uniform(0.35, 0.65) * (w - 1), rng.uniform(0.35, 0.65) * (h - 1)),
        sizes=(max(cfg.min_size, 0.2 * side), max(cfg.min_size, 0.35 * side)))
    distractors = sample_things(rng, cfg, backdrop, first_id=ACTOR_ID + 1)
    actor.depth = min([d.depth for d in distractors] + [1.0]) * 0.99
    things = distractors + [actor]  # far to near
    t = np.arange(cfg.clip_length, dtype=np.float64)
    motions, actor_angles = _actor_track(rng_for(seed, ACTOR), ACTIONS[index], actor, cfg, t)
    tracks = _distractor_tracks(rng_for(seed, MOTION), cfg, distractors, t)
    tracks[ACTOR_ID] = motions
    frames, objects = [], []
    for k in range(cfg.clip_length):
        poses = [tracks[th.track_id][k] @ th.pose for th in things]
        angles = [actor_angles[k] if th is actor else th.angles for th in things]
        frame = paint_frame(backdrop, things, cfg.size, poses, angles, labels=k == 0)
        if k == 0:
            first = frame
        frames.append(frame.image)
        objects.append(frame_objects(things, frame, cfg.min_visible_area))
    video = tv_tensors.Video(torch.stack([to_image(f).as_subclass(torch.Tensor) for f in frames]))
    scene = scene_from_frame(cfg, things, first, seed, video=video, action=index)
    return scene.replace(objects=objects[0], frame_objects=objects)


def actor_objects(scene: Scene) -> list[Objects]:
    """The actor's labels in every frame of a clip (empty where it is not visible)."""
    return [o[o.ids == ACTOR_ID] for o in scene.frame_objects or []]
