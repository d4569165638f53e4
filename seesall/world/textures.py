"""Procedural textures: small periodic tiles warped onto shapes and stuff regions.

A texture is a tile (uint8 [16, 16, 3]) plus a matrix from tile pixels to the
frame it is painted in. Warping the tile with OpenCV (bilinear) paints it at any
position, rotation and scale; because the tile moves with its layer's matrix, a
moving layer carries its texture exactly, which is what makes the flow labels exact.

Textures are smooth on purpose (sinusoids, periods of 12-32 image pixels and
egg-crate checks), so that resampling a frame at sub-pixel positions stays
close to re-rendering it; see ``tests/world/test_pair.py`` for the measured bound.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from seesall.world.geometry import similarity, translation

TILE = 16
"""Side of a texture tile in pixels (one period of the periodic textures)."""
MIN_PERIOD, MAX_PERIOD = 12.0, 32.0
"""Range of texture periods in image pixels."""
PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket")
"""scikit-image sample photos used as backgrounds (bundled with the package, no download)."""

_GRID = np.mgrid[0:TILE, 0:TILE].astype(np.float64) * (2 * math.pi / TILE)  # (2, T, T): y, x


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, float [3] in [0, 255]."""
    return rng.uniform(0.0, 255.0, 3)


def pattern(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A [TILE, TILE] float pattern in [0, 1]; periodic except for "gradient"."""
    gy, gx = _GRID
    if kind == "stripes":
        p = 0.5 + 0.5 * np.sin(gx)
    elif kind == "checker":
        p = 0.5 + 0.5 * np.sin(gx) * np.sin(gy)
    elif kind == "noise":
        p = np.zeros((TILE, TILE))
        for fx, fy in rng.integers(-2, 3, (3, 2)):
            p += rng.uniform(0.3, 1.0) * np.sin(fx * gx + fy * gy + rng.uniform(0, 2 * math.pi))
        p = (p - p.min()) / max(float(np.ptp(p)), 1e-6)
    elif kind == "gradient":
        p = gx / gx.max()
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    return p


def tile(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A coloured texture tile uint8 [TILE, TILE, 3] blending two random colours."""
    c0, c1 = random_colour(rng), random_colour(rng)
    p = pattern(rng, kind)[..., None]
    return np.ascontiguousarray((c0 + p * (c1 - c0)).round().astype(np.uint8))


def border_mode(kind: str) -> int:
    """How the tile continues beyond its edge: wrap for periodic textures."""
    return cv2.BORDER_REPLICATE if kind == "gradient" else cv2.BORDER_WRAP


def placement(rng: np.random.Generator, kind: str, pixels_per_unit: float,
              extent: float = 1.0) -> np.ndarray:
    """3x3 matrix tile pixels -> target frame (units of ``pixels_per_unit`` image pixels).

    Periodic textures get a random period in [MIN_PERIOD, MAX_PERIOD] image pixels,
    rotation and phase; a gradient spans the region [-extent, extent]^2 once.
    """
    angle = rng.uniform(0, 2 * math.pi)
    if kind == "gradient":
        unit = 2.0 * extent / TILE
        return similarity(0, 0, angle, unit) @ translation(-(TILE - 1) / 2, -(TILE - 1) / 2)
    period = math.exp(rng.uniform(math.log(MIN_PERIOD), math.log(MAX_PERIOD)))
    unit = period / TILE / pixels_per_unit
    phase = rng.uniform(0, TILE, 2)
    return similarity(0, 0, angle, unit) @ translation(-phase[0], -phase[1])


def paint(tile_img: np.ndarray, to_target: np.ndarray, size: tuple[int, int], border: int
          ) -> np.ndarray:
    """Warp a tile into a canvas of ``size`` (h, w) with the 3x3 tile->canvas matrix."""
    h, w = size
    return cv2.warpAffine(tile_img, to_target[:2], (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=border)


def random_dots(rng: np.random.Generator, size: tuple[int, int], dot: int = 2) -> np.ndarray:
    """Black-and-white random dots uint8 [h, w, 3] (dots of ``dot`` x ``dot`` pixels)."""
    h, w = size
    cells = rng.integers(0, 2, (-(-h // dot), -(-w // dot)), dtype=np.uint8) * 255
    dots = np.repeat(np.repeat(cells, dot, 0), dot, 1)[:h, :w]
    return np.ascontiguousarray(np.repeat(dots[..., None], 3, 2))


@functools.cache
def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 [h, w, 3] (read once, cached)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, 2)
    return np.ascontiguousarray(img[..., :3])


def photo_canvas(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random crop of a random photo, scaled/rotated/flipped to fill ``size`` (h, w)."""
    img = photo(PHOTOS[int(rng.integers(len(PHOTOS)))])
    ph, pw = img.shape[:2]
    h, w = size
    cover = math.hypot(h, w) / min(ph, pw)
    scale = rng.uniform(cover, 2.5 * cover)  # canvas pixels per photo pixel
    angle = rng.uniform(-0.3, 0.3)
    flip = np.diag([-1.0 if rng.random() < 0.5 else 1.0, 1.0, 1.0])
    centre = rng.uniform(0.4, 0.6, 2) * (pw, ph)
    m = similarity(w / 2, h / 2, angle, scale) @ flip @ translation(-centre[0], -centre[1])
    return cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
