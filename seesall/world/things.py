"""Things: the objects of the world, drawn at random and painted far to near."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from seesall.world import textures
from seesall.world.background import FAR_THING, NEAR, Backdrop
from seesall.world.classes import PERSON
from seesall.world.config import WorldConfig
from seesall.world.geometry import invert, random_person_angles, similarity


@dataclass
class Thing:
    """One object of the world.

    Attributes:
        track_id: instance id, >= 1, unique in a scene and stable across frames.
        label: index into ``THING_CLASSES``.
        depth: layer depth (world units, larger is farther); constant over a clip.
        pose: 3x3 similarity local frame -> first-frame image (pixel centres).
        angles: the person's 8 limb angles (see ``random_person_angles``) or None.
        texture: the texture source, uint8 [h, w, 4] (a tile or the background canvas).
        texture_to_local: 3x3 matrix texture pixels -> local frame.
        border: OpenCV border mode used when the texture is sampled beyond its edge.
    """

    track_id: int
    label: int
    depth: float
    pose: np.ndarray
    angles: np.ndarray | None
    texture: np.ndarray
    texture_to_local: np.ndarray
    border: int

    @property
    def scale(self) -> float:
        """Image pixels per local unit in the first frame (half the object's size)."""
        return float(math.hypot(self.pose[0, 0], self.pose[1, 0]))

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the local frame in the first-frame image."""
        return float(self.pose[0, 2]), float(self.pose[1, 2])


def sample_things(rng: np.random.Generator, cfg: WorldConfig, backdrop: Backdrop,
                  first_id: int = 1) -> list[Thing]:
    """Draw ``cfg.num_objects`` objects with random class, size, place, rotation, texture
    and depth.

    Returns the things sorted far to near (the painting order); track ids are
    first_id, first_id + 1, ... in the order they were drawn.
    """
    lo, hi = cfg.num_objects
    n = int(rng.integers(lo, hi + 1))
    things = [sample_thing(rng, cfg, backdrop, first_id + i) for i in range(n)]
    return sorted(things, key=lambda t: -t.depth)


def sample_thing(rng: np.random.Generator, cfg: WorldConfig, backdrop: Backdrop, track_id: int,
                 label: int | None = None, centre: tuple[float, float] | None = None,
                 sizes: tuple[float, float] | None = None) -> Thing:
    """One random thing (class drawn from ``cfg.classes`` unless ``label`` is given; size
    log-uniform in ``sizes``, default (``min_size``, ``max_object_size``))."""
    h, w = cfg.size
    u = rng.random(8).tolist()  # one draw: class, size, centre, rotation, depth, texture
    if label is None:
        label = cfg.class_labels[min(int(u[0] * len(cfg.class_labels)),
                                     len(cfg.class_labels) - 1)]
    lo, hi = sizes if sizes is not None else (cfg.min_size, cfg.max_object_size)
    size = math.exp(math.log(lo) + u[1] * math.log(hi / lo))
    if centre is None:
        centre = (u[2] * (w - 1), u[3] * (h - 1))
    if label == PERSON:  # a small tilt: normal(0, 0.2) by Box-Muller
        angle = 0.2 * math.sqrt(-2.0 * math.log(1.0 - u[4])) * math.cos(2 * math.pi * u[5])
        angles = random_person_angles(rng)
    else:
        angle, angles = 2 * math.pi * u[4], None
    pose = similarity(centre[0], centre[1], angle, size / 2)
    depth = NEAR + u[6] * (FAR_THING - NEAR)
    if cfg.kinematogram:  # wear the background it covers in the first frame
        tex, to_local = backdrop.image, invert(pose) @ backdrop.to_image()
        border = cv2.BORDER_REFLECT
    else:
        kind = cfg.textures[min(int(u[7] * len(cfg.textures)), len(cfg.textures) - 1)]
        tex, to_local, border = textures.texture(rng, kind, size / 2)
    return Thing(track_id, int(label), float(depth), pose, angles, tex, to_local, border)
