"""The background layer: stuff regions (sky, wall, ground), a photo or random dots.

The background is drawn once on a canvas larger than the image by ``margin``
pixels on every side, so that it still covers the image after it moves.
Canvas pixel (margin, margin) is image pixel (0, 0) in the first frame.

Depth units: the world uses one arbitrary, metre-like unit; larger is farther.
Things live at depths in [``NEAR``, ``FAR_THING``); all stuff is farther:
the ground recedes from ``GROUND_NEAR`` at the bottom of the canvas to
``GROUND_FAR`` at the horizon (linear in inverse depth, as a flat ground seen
by a pinhole camera), a wall stands on the ground and takes the ground's depth
at its base, the sky is at ``SKY_DEPTH``. Photos and random dots have no stuff
labels (``IGNORE_INDEX``) and the constant depth ``FLAT_DEPTH``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from seesall.structures import IGNORE_INDEX
from seesall.world import textures
from seesall.world.classes import STUFF_CLASSES
from seesall.world.config import WorldConfig
from seesall.world.geometry import translation

NEAR, FAR_THING = 1.0, 8.0
GROUND_NEAR, GROUND_FAR = 10.0, 40.0
SKY_DEPTH = 100.0
FLAT_DEPTH = 50.0
COARSE = 4
"""Stuff textures are drawn at 1/COARSE resolution and resized: they are large and smooth
(periods of 24-64 pixels, twice those of things)."""
SKY, WALL, GROUND = (STUFF_CLASSES.index(n) for n in ("sky", "wall", "ground"))


@dataclass
class Backdrop:
    """The background canvas and its labels.

    Attributes:
        image: uint8 [Hc, Wc, 4] colours (RGB and 255, see ``textures``).
        stuff: uint8 [H, W] index into ``STUFF_CLASSES`` or ``IGNORE_INDEX``, of the
            first frame's image area only (canvas pixels margin.. margin + H): the labels
            of the margin are never read.
        depth: float32 [H, W] depth of the stuff, of the same area.
        margin: canvas pixels beyond the image on every side.
    """

    image: np.ndarray
    stuff: np.ndarray
    depth: np.ndarray
    margin: int

    def to_image(self) -> np.ndarray:
        """3x3 matrix canvas pixels -> first-frame image pixels."""
        return translation(-self.margin, -self.margin)

    def crop(self, h: int, w: int, copy: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image, stuff, depth) of the first frame: plain slices of the canvas and the labels.

        Args:
            copy: copies (default) or views of the canvas (for a caller that paints the
                frame and never reads the canvas again).
        """
        m = self.margin
        sl = (slice(m, m + h), slice(m, m + w))
        if not copy:
            return self.image[sl], self.stuff, self.depth
        return self.image[sl].copy(), self.stuff.copy(), self.depth.copy()


def make_backdrop(rng: np.random.Generator, cfg: WorldConfig, margin: int) -> Backdrop:
    """Draw a background: stuff (default), a photo, or random dots for kinematograms."""
    h, w = cfg.size[0] + 2 * margin, cfg.size[1] + 2 * margin
    if cfg.kinematogram:
        image = textures.random_dots(rng, (h, w))
        return _flat(image, cfg.size, margin)
    if cfg.photo_backgrounds > 0 and rng.random() < cfg.photo_backgrounds:
        return _flat(textures.photo_canvas(rng, (h, w)), cfg.size, margin)
    return _stuff(rng, cfg, (h, w), margin)


def _flat(image: np.ndarray, size: tuple[int, int], margin: int = 0) -> Backdrop:
    h, w = size
    stuff = np.full((h, w), IGNORE_INDEX, np.uint8)
    depth = np.full((h, w), FLAT_DEPTH, np.float32)
    return Backdrop(image, stuff, depth, margin)


def _ground_depth(rows: np.ndarray | float, horizon: int, bottom: int) -> np.ndarray | float:
    f = (rows - horizon + 1.0) / max(bottom - horizon, 1)
    return 1.0 / (1.0 / GROUND_FAR + f * (1.0 / GROUND_NEAR - 1.0 / GROUND_FAR))


@functools.lru_cache(maxsize=1024)
def _ground_column(first: int, last: int, horizon: int, bottom: int) -> np.ndarray:
    """float32 [last - first, 1] ground depth of canvas rows first..last (read-only, cached:
    a few hundred horizons per image size)."""
    column = _ground_depth(np.arange(first, last, dtype=np.float64), horizon, bottom)
    column = column.astype(np.float32)[:, None]
    column.flags.writeable = False
    return column


def _stuff(rng: np.random.Generator, cfg: WorldConfig, size: tuple[int, int], margin: int
           ) -> Backdrop:
    """Sky above a horizon, ground below, and often a wall standing on the ground."""
    h, w = size
    image = np.empty((h, w, 4), np.uint8)
    horizon = int(margin + rng.uniform(0.15, 0.7) * cfg.size[0])
    rows = np.arange(h, dtype=np.float64)
    # Sky: a vertical gradient between two random colours.
    c0, c1 = textures.random_colour(rng), textures.random_colour(rng)
    t = (rows[:horizon] / max(horizon, 1))[:, None]
    column = np.full((horizon, 1, 4), 255, np.uint8)
    column[:, 0, :3] = (c0 + t * (c1 - c0)).round()  # (horizon, 3), values in [0, 255]
    if horizon:
        cv2.resize(column, (w, horizon), dst=image[:horizon], interpolation=cv2.INTER_NEAREST)
    # Ground: a textured region with depth by row.
    _texture_rect(rng, cfg, image, (0, horizon, w, h))
    # Labels of the image area (canvas rows and columns margin .. margin + H or W).
    ih, iw = cfg.size
    stuff = np.empty((ih, iw), np.uint8)
    depth = np.empty((ih, iw), np.float32)
    sky = horizon - margin  # image rows above the horizon, in [0, ih]
    stuff[:sky] = SKY
    depth[:sky] = SKY_DEPTH
    stuff[sky:] = GROUND
    depth[sky:] = _ground_column(margin + sky, margin + ih, horizon, h)
    if rng.random() < 0.6:
        if rng.random() < 0.3:  # indoors: the wall spans the width
            xa, xb = 0, w
        else:
            xa, xb = sorted(rng.integers(0, w + 1, 2).tolist())
        top = int(rng.uniform(0, horizon)) if rng.random() < 0.7 else 0
        base = int(horizon + rng.uniform(0.0, 0.4) * (h - horizon))
        if xb > xa and base > top:
            _texture_rect(rng, cfg, image, (xa, top, xb, base))
            sl = (slice(max(top - margin, 0), max(base - margin, 0)),
                  slice(max(xa - margin, 0), max(xb - margin, 0)))
            stuff[sl] = WALL
            depth[sl] = _ground_depth(float(base), horizon, h)
    return Backdrop(image, stuff, depth, margin)


def _texture_rect(rng: np.random.Generator, cfg: WorldConfig, image: np.ndarray,
                  rect: tuple[int, int, int, int]) -> None:
    """Paint a random texture into image[y0:y1, x0:x1] (rect = x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (int(v) for v in rect)
    if x1 <= x0 or y1 <= y0:
        return
    kind = cfg.textures[int(rng.integers(len(cfg.textures)))]
    extent = max(x1 - x0, y1 - y0) / 2
    tile, m, border = textures.texture(rng, kind, 0.5, extent, coarse=COARSE)
    m[:2, 2] += ((x1 - x0) / 2, (y1 - y0) / 2)  # translation((x1 - x0) / 2, ...) @ m
    textures.paint_coarse(tile, m, (y1 - y0, x1 - x0), border, COARSE, dst=image[y0:y1, x0:x1])
