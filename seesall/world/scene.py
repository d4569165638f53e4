"""render_scene: one fully labelled image of the world."""

from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors

from seesall.structures import Scene
from seesall.world.background import Backdrop, make_backdrop
from seesall.world.config import WorldConfig
from seesall.world.labels import frame_objects, to_image
from seesall.world.render import Frame, paint_frame
from seesall.world.things import Thing, sample_things

LAYOUT, MOTION, ACTION, ACTOR = range(4)
"""Independent random streams of one seed (so that e.g. the action never moves the layout)."""


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """The random generator of one stream of ``seed`` (PCG64, no global state)."""
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), stream])))


def layout(cfg: WorldConfig, seed: int, margin: int = 0) -> tuple[Backdrop, list[Thing]]:
    """The background and the things (far to near) of ``seed``."""
    rng = rng_for(seed, LAYOUT)
    backdrop = make_backdrop(rng, cfg, margin)
    return backdrop, sample_things(rng, cfg, backdrop)


def scene_from_frame(cfg: WorldConfig, things: list[Thing], frame: Frame, seed: int,
                     **fields: object) -> Scene:
    """Wrap a painted first frame and its labels as a Scene."""
    objects = frame_objects(things, frame, cfg.min_visible_area)
    return Scene(
        image=to_image(frame.image),
        objects=objects,
        semantic=torch.from_numpy(frame.semantic.astype(np.int64)).as_subclass(tv_tensors.Mask),
        depth=torch.from_numpy(np.ascontiguousarray(frame.depth)).as_subclass(tv_tensors.Mask),
        image_id=int(seed),
        **fields,
    )


def render_scene(cfg: WorldConfig, seed: int) -> Scene:
    """One image with every label, deterministically from ``seed``.

    Returns:
        Scene with ``image`` (Image[3, H, W] uint8), ``objects`` (labels into
        ``THING_CLASSES``; XYXY boxes tight around the visible masks with
        x2 = max col + 1; visible masks Mask[N, H, W]; keypoints [N, 13, 2] with COCO
        visibility, all zero for non-persons; track ids; layer depths), ``semantic``
        (Mask[H, W] int64 over ``SEMANTIC_CLASSES``, ``IGNORE_INDEX`` where unknown) and
        ``depth`` (Mask[H, W] float32 world units, larger is farther).
        See ``seesall.world.labels`` for the exact conventions.
    """
    backdrop, things = layout(cfg, seed)
    # Kinematogram things wear the canvas as their texture: it must stay unpainted.
    frame = paint_frame(backdrop, things, cfg.size, consume=not cfg.kinematogram)
    return scene_from_frame(cfg, things, frame, seed)
