"""Counting overlapping objects: clips where motion separates what one frame merges.

A clip shows ``k`` identical-looking discs (same flat colour, same radius, no
outline, drawn opaque one over the other) whose centres lie within a fifth of
their radius of a common centre in frame 0, so the first frame shows one blob
whatever ``k`` is. In a *static* clip nothing moves; in a *moving* clip every disc
travels on its own straight path (directions spread around the circle), so the
discs come apart over the clip. The background is a world scene without
objects (``render_scene`` with ``num_objects=(0, 0)``).

Labels are ``k - 1`` (class names ``COUNT_CLASSES``). A model that sees one
frame can only guess ``k`` from the blob's outline; a model that sees the moving
clip can count the discs as they part. On static clips the clip is no better
than one frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from seesall.world import WorldConfig, render_scene

MAX_COUNT = 4
COUNT_CLASSES = tuple(str(k) for k in range(1, MAX_COUNT + 1))
"""Class i means i + 1 objects."""


@dataclass(frozen=True)
class CountingConfig:
    """How counting clips are drawn.

    Attributes:
        size: (H, W) of the frames.
        clip_length: frames T per clip.
        radius: (min, max) disc radius in pixels, one value per clip shared by its discs.
        jitter: largest offset of a disc centre from the common centre in frame 0,
            as a fraction of the radius.
        speed: (min, max) speed of a moving disc in pixels per frame.
    """

    size: tuple[int, int] = (64, 64)
    clip_length: int = 8
    radius: tuple[float, float] = (5.0, 7.0)
    jitter: float = 0.2
    speed: tuple[float, float] = (2.5, 3.0)

    def __post_init__(self) -> None:
        h, w = self.size
        if min(h, w) < 16:
            raise ValueError(f"CountingConfig.size must be >= 16 pixels per side, got {self.size}")
        if self.clip_length < 2:
            raise ValueError(f"CountingConfig.clip_length must be >= 2, got {self.clip_length}")
        if not 0 < self.radius[0] <= self.radius[1]:
            raise ValueError(f"CountingConfig.radius must be (min, max) with 0 < min <= max, "
                             f"got {self.radius}")
        if not 0 <= self.speed[0] <= self.speed[1]:
            raise ValueError(f"CountingConfig.speed must be (min, max) with 0 <= min <= max, "
                             f"got {self.speed}")


def _tracks(rng: np.random.Generator, cfg: CountingConfig, k: int, radius: float,
            moving: bool) -> np.ndarray:
    """Disc centres per frame, float array [T, k, 2] (x, y)."""
    h, w = cfg.size
    centre = np.array([rng.uniform(0.4, 0.6) * (w - 1), rng.uniform(0.4, 0.6) * (h - 1)])
    offsets = rng.uniform(-1.0, 1.0, (k, 2)) * cfg.jitter * radius
    start = centre + offsets  # (k, 2)
    t = np.arange(cfg.clip_length, dtype=np.float64)[:, None, None]  # (T, 1, 1)
    if not moving:
        return np.broadcast_to(start, (cfg.clip_length, k, 2)).copy()
    # directions spread around the circle with a random phase, each turned a little
    phase = rng.uniform(0.0, 2 * math.pi)
    theta = phase + 2 * math.pi * np.arange(k) / k + rng.uniform(-0.2, 0.2, k)
    speed = rng.uniform(*cfg.speed, k)
    velocity = np.stack([np.cos(theta), np.sin(theta)], axis=1) * speed[:, None]  # (k, 2)
    return start[None] + t * velocity[None]  # (T, k, 2)


def render_counting_clip(cfg: CountingConfig, seed: int, *, count: int, moving: bool) -> Tensor:
    """The clip of ``count`` overlapping discs: uint8 Tensor[T, 3, H, W]."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be in 1..{MAX_COUNT}, got {count}")
    rng = np.random.default_rng([seed, count, int(moving)])
    world = WorldConfig(size=cfg.size, num_objects=(0, 0))
    background = render_scene(world, seed).image.permute(1, 2, 0).numpy()  # (H, W, 3)
    radius = rng.uniform(*cfg.radius)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    centres = _tracks(rng, cfg, count, radius, moving)
    frames = []
    for points in centres:
        frame = np.ascontiguousarray(background.copy())
        for x, y in points:  # identical discs painted one over the other
            xy = (int(round(x * 16)), int(round(y * 16)))
            cv2.circle(frame, xy, int(round(radius * 16)), colour, -1, cv2.LINE_AA, shift=4)
        frames.append(torch.from_numpy(frame).permute(2, 0, 1))
    return torch.stack(frames)  # (T, 3, H, W)


def counting_set(cfg: CountingConfig, seeds: range) -> dict[str, Tensor]:
    """Clip i (seed ``seeds[i]``) has count ``1 + i % 4`` and is moving when ``(i // 4)`` is odd.

    Returns {"video": uint8 Tensor[N, T, 3, H, W], "labels": Tensor[N] (count - 1),
    "moving": Tensor[N] bool}.
    """
    videos, labels, moving = [], [], []
    for i, seed in enumerate(seeds):
        k, mov = 1 + i % MAX_COUNT, bool((i // MAX_COUNT) % 2)
        videos.append(render_counting_clip(cfg, seed, count=k, moving=mov))
        labels.append(k - 1)
        moving.append(mov)
    return {"video": torch.stack(videos), "labels": torch.tensor(labels, dtype=torch.int64),
            "moving": torch.tensor(moving)}
