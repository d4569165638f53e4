"""Procedural textures: small periodic tiles warped onto shapes and stuff regions.

A texture is a small tile (uint8 [s, s, 4], one period) plus a matrix from tile
pixels to the frame it is painted in. Warping the tile with OpenCV (bilinear) paints it at any
position, rotation and scale; because the tile moves with its layer's matrix, a
moving layer carries its texture exactly, which is what makes the flow labels exact.

Textures are smooth on purpose (sinusoids, periods of 12-32 image pixels and
egg-crate checks), so that resampling a frame at sub-pixel positions stays
close to re-rendering it; see ``tests/world/test_pair.py`` for the measured bound.

Images inside the world have four channels, RGB and an unused fourth (255): OpenCV
warps and resizes 4-channel images several times faster than 3-channel ones (its
vectorised paths); ``labels.to_image`` keeps the first three.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from seesall.world.geometry import similarity, translation

GRADIENT_TILE = 16
"""Side of the tile of a gradient (the ramp spans the region once)."""
MIN_TILE = 8
"""Smallest side of a periodic tile (one period)."""
MIN_PERIOD, MAX_PERIOD = 12.0, 32.0
"""Range of texture periods in image pixels."""
PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket")
"""scikit-image sample photos used as backgrounds (bundled with the package, no download)."""


@functools.cache
def _grid(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Phases (y, x) of a [side, side] tile, one period per side."""
    gy, gx = np.mgrid[0:side, 0:side].astype(np.float64) * (2 * math.pi / side)
    return gy, gx


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour, float [3] in [0, 255]."""
    return rng.uniform(0.0, 255.0, 3)


@functools.cache
def _fixed_pattern(kind: str, side: int) -> np.ndarray:
    """uint8 [side, side] pattern of a fixed kind, 0..255 (read-only, cached)."""
    gy, gx = _grid(side)
    if kind == "stripes":
        p = 0.5 + 0.5 * np.sin(gx)
    elif kind == "checker":
        p = 0.5 + 0.5 * np.sin(gx) * np.sin(gy)
    else:
        p = gx / gx.max()
    p = (255 * p).round().astype(np.uint8)
    p.flags.writeable = False
    return p


NOISE_FREQ = 2
"""Noise waves have integer frequencies in [-NOISE_FREQ, NOISE_FREQ] per tile side."""


@functools.cache
def _waves(side: int) -> np.ndarray:
    """float32 [side * side, 2F] sin and cos of every integer wave (fx, fy) of the tile,
    F = (2 * NOISE_FREQ + 1) ** 2 (read-only, cached): a noise pattern is one product."""
    gy, gx = _grid(side)
    f = np.arange(-NOISE_FREQ, NOISE_FREQ + 1, dtype=np.float64)
    theta = (f[:, None, None, None] * gx + f[None, :, None, None] * gy).reshape(-1, side * side)
    table = np.concatenate([np.sin(theta), np.cos(theta)]).T.astype(np.float32)
    table.flags.writeable = False
    return np.ascontiguousarray(table)


def pattern(rng: np.random.Generator, kind: str, side: int) -> np.ndarray:
    """A uint8 [side, side] pattern (0..255) holding one period; a ramp for "gradient"."""
    if kind in ("stripes", "checker", "gradient"):
        return _fixed_pattern(kind, side)
    if kind == "noise":  # three random waves whose periods divide the tile
        n = 2 * NOISE_FREQ + 1
        u = rng.random(12).tolist()
        weights = np.zeros(2 * n * n, np.float32)
        for k in range(3):  # sin(t + phase) = cos(phase) sin(t) + sin(phase) cos(t)
            fx, fy = min(int(u[k] * n), n - 1), min(int(u[3 + k] * n), n - 1)
            amp, phase = 0.3 + 0.7 * u[6 + k], 2 * math.pi * u[9 + k]
            weights[fx * n + fy] += amp * math.cos(phase)
            weights[n * n + fx * n + fy] += amp * math.sin(phase)
        p = (_waves(side) @ weights).reshape(side, side)
        return cv2.normalize(p, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
    raise ValueError(f"unknown texture kind {kind!r}")


def _matrix(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """3x3 ``similarity(0, 0, angle, scale) @ translation(tx, ty)``."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    return np.array([[c, s, c * tx + s * ty], [-s, c, -s * tx + c * ty], [0.0, 0.0, 1.0]])


def texture(rng: np.random.Generator, kind: str, pixels_per_unit: float, extent: float = 1.0,
            coarse: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """A random texture blending two random colours.

    Periodic kinds get a random period in [MIN_PERIOD, MAX_PERIOD] image pixels, a random
    rotation and phase; a gradient spans the region [-extent, extent]^2 once, at a random
    angle. The tile holds one period at about one tile pixel per target pixel (at
    1/``coarse`` resolution), so that warping it neither minifies nor wastes work.

    Args:
        pixels_per_unit: image pixels per unit of the target frame (an object's scale).

    Returns:
        (tile uint8 [s, s, 4], 3x3 matrix tile pixels -> target frame, OpenCV border mode).
    """
    u = rng.random(10).tolist()  # one draw: angle, two colours, period, phase
    angle = 2 * math.pi * u[0]
    c0, c1 = [255.0 * v for v in u[1:4]], [255.0 * v for v in u[4:7]]
    if kind == "gradient":
        side = GRADIENT_TILE
        m = _matrix(angle, 2.0 * extent / side, -(side - 1) / 2, -(side - 1) / 2)
    else:
        period = math.exp(math.log(MIN_PERIOD) + u[7] * math.log(MAX_PERIOD / MIN_PERIOD))
        side = max(MIN_TILE, round(period / coarse))
        m = _matrix(angle, period / side / pixels_per_unit, -u[8] * side, -u[9] * side)
    # colour k = c0[k] + p / 255 * (c1[k] - c0[k]), rounded and saturated by OpenCV
    blend = np.array([[(b - a) / 255.0, a] for a, b in zip(c0, c1, strict=True)]
                     + [[0.0, 255.0]])  # the fourth channel: 255
    tile = cv2.transform(pattern(rng, kind, side), blend)
    return tile, m, border_mode(kind)


def border_mode(kind: str) -> int:
    """How the tile continues beyond its edge: wrap for periodic textures."""
    return cv2.BORDER_REPLICATE if kind == "gradient" else cv2.BORDER_WRAP


def paint(texture: np.ndarray, to_target: np.ndarray, size: tuple[int, int], border: int
          ) -> np.ndarray:
    """Warp a texture into a canvas of ``size`` (h, w) with the texture->canvas affine matrix
    (2x3 or 3x3).

    Bilinear. A periodic tile (``BORDER_WRAP``) is first repeated, and a replicated one
    (``BORDER_REPLICATE``) first padded, to cover the area the canvas reads: the same
    values as OpenCV's border modes, without their slow per-pixel border path.
    """
    h, w = size
    if border in (cv2.BORDER_WRAP, cv2.BORDER_REPLICATE):
        texture, to_target = _cover(texture, to_target, h, w, border)
    return cv2.warpAffine(texture, to_target[:2], (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=border)


def _cover(texture: np.ndarray, to_target: np.ndarray, h: int, w: int, border: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Extend ``texture`` (wrapped or replicated) to span the source area a (h, w) target
    reads; returns it and the 2x3 matrix from it to the target. Scalar arithmetic: the
    matrices are tiny."""
    a, b, c, d, e, f = to_target[:2].ravel().tolist()
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det  # the inverse, target -> texture
    ic, if_ = -(ia * c + ib * f), -(id_ * c + ie * f)
    # extremes of the inverse over the target's corners (0 or w - 1, 0 or h - 1)
    xlo = ic + min(ia * (w - 1), 0.0) + min(ib * (h - 1), 0.0)
    xhi = ic + max(ia * (w - 1), 0.0) + max(ib * (h - 1), 0.0)
    ylo = if_ + min(id_ * (w - 1), 0.0) + min(ie * (h - 1), 0.0)
    yhi = if_ + max(id_ * (w - 1), 0.0) + max(ie * (h - 1), 0.0)
    th, tw = texture.shape[:2]
    x0, y0 = math.floor(xlo) - 2, math.floor(ylo) - 2
    x1, y1 = math.ceil(xhi) + 3, math.ceil(yhi) + 3
    left, top = max(-x0, 0), max(-y0, 0)
    if border == cv2.BORDER_WRAP:  # start on a period boundary: the same values, shifted
        left, top = -(x0 // tw) * tw if x0 < 0 else 0, -(y0 // th) * th if y0 < 0 else 0
    right, bottom = max(x1 - tw, 0), max(y1 - th, 0)
    out = cv2.copyMakeBorder(texture, top, bottom, left, right, border)
    # to_target @ translation(-left, -top)
    shifted = np.array([[a, b, c - (a * left + b * top)], [d, e, f - (d * left + e * top)]])
    return out, shifted


def paint_coarse(texture: np.ndarray, to_target: np.ndarray, size: tuple[int, int],
                 border: int, factor: int = 2, dst: np.ndarray | None = None) -> np.ndarray:
    """``paint`` at 1/``factor`` resolution, then a bilinear resize (for large smooth regions).

    Args:
        dst: where to write the (h, w, 4) result (e.g. a view of a larger image), or None.
    """
    h, w = size
    sh, sw = -(-h // factor), -(-w // factor)
    # Canvas pixel x sits at coarse pixel (x + 0.5) * sw / w - 0.5 (OpenCV's resize grid).
    fx, fy = sw / w, sh / h
    a, b, c, d, e, f = to_target[:2].ravel().tolist()
    to_coarse = np.array([[fx * a, fx * b, fx * c + (0.5 * fx - 0.5)],
                          [fy * d, fy * e, fy * f + (0.5 * fy - 0.5)]])  # (scale, shift) @ m
    coarse = paint(texture, to_coarse, (sh, sw), border)
    return cv2.resize(coarse, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)


def random_dots(rng: np.random.Generator, size: tuple[int, int], dot: int = 2) -> np.ndarray:
    """Black-and-white random dots uint8 [h, w, 4] (dots of ``dot`` x ``dot`` pixels)."""
    h, w = size
    cells = rng.integers(0, 2, (-(-h // dot), -(-w // dot)), dtype=np.uint8) * 255
    dots = np.repeat(np.repeat(cells, dot, 0), dot, 1)[:h, :w]
    return np.ascontiguousarray(np.repeat(dots[..., None], 4, 2))


@functools.cache
def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 [h, w, 4] (read once, cached)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, 2)
    return cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2RGBA)


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
