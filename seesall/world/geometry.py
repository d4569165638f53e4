"""Shapes in their local frame, similarity transforms and rasterisation.

Coordinates inside the world are pixel-centre coordinates: pixel (row i, col j)
has its centre at (x, y) = (j, i), which is what OpenCV's drawing and warping
functions use. The public labels shift to the continuous convention where
pixel j covers [j, j + 1) (see ``seesall.world.labels``).

Every thing has a *local* frame in which its shape fits the unit disc (a person
spans y in [-1, 1], head up); a 3x3 matrix ``pose`` maps local to image
coordinates. Poses are similarities (rotation, uniform scale, translation).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from seesall.world.classes import PERSON, PERSON_KEYPOINTS, PERSON_SKELETON, THING_CLASSES

SUBPIXEL_BITS = 4
"""Fixed-point bits of the vertex coordinates handed to OpenCV's polygon filler."""


def similarity(cx: float, cy: float, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """3x3 matrix x -> c + scale * R(angle) x (angle in radians, counter-clockwise on screen)."""
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    return np.array([[c, s, cx], [-s, c, cy], [0.0, 0.0, 1.0]])


def translation(tx: float, ty: float) -> np.ndarray:
    """3x3 matrix x -> x + (tx, ty)."""
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def about(point: tuple[float, float], angle: float, scale: float, shift: tuple[float, float]
          ) -> np.ndarray:
    """Rotation/scale about ``point`` followed by a shift: an image-space motion (3x3)."""
    px, py = point
    c, s = math.cos(angle) * scale, math.sin(angle) * scale  # closed form of the product
    return np.array([[c, s, px + shift[0] - (c * px + s * py)],
                     [-s, c, py + shift[1] - (c * py - s * px)], [0.0, 0.0, 1.0]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 affine ``m`` to points Tensor[P, 2] (x, y)."""
    return pts @ m[:2, :2].T + m[:2, 2]


def invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 affine matrix (closed form, faster than a general inverse)."""
    a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    tx, ty = m[0, 2], m[1, 2]
    return np.array([[ia, ib, -(ia * tx + ib * ty)], [ic, id_, -(ic * tx + id_ * ty)],
                     [0.0, 0.0, 1.0]])


def compose(m: np.ndarray, n: np.ndarray, tx: float = 0.0, ty: float = 0.0
            ) -> tuple[float, float, float, float, float, float]:
    """The top two rows (a, b, c, d, e, f) of ``translation(tx, ty) @ m @ n`` for 3x3 affine
    matrices (scalar arithmetic: cheaper than numpy on 3x3 arrays)."""
    a, b, c, d, e, f = m[:2].ravel().tolist()
    p, q, r, s, t, u = n[:2].ravel().tolist()
    return (a * p + b * s, a * q + b * t, a * r + b * u + c + tx,
            d * p + e * s, d * q + e * t, d * r + e * u + f + ty)


def snap(m: tuple[float, float, float, float, float, float]
         ) -> tuple[float, float, float, float, float, float]:
    """Round an affine (a, b, c, d, e, f), the top two rows of a 3x3 matrix, that is an
    integer translation up to float error to exactly that."""
    a, b, tx, c, d, ty = m
    if max(abs(a - 1.0), abs(b), abs(c), abs(d - 1.0)) < 1e-9 and \
            max(abs(tx - round(tx)), abs(ty - round(ty))) < 1e-6:
        return 1.0, 0.0, float(round(tx)), 0.0, 1.0, float(round(ty))
    return m


def _ngon(n: int, radius: float = 1.0, phase: float = 0.0) -> np.ndarray:
    a = phase + np.arange(n) * (2 * math.pi / n)
    return np.stack([radius * np.cos(a), -radius * np.sin(a)], 1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    a = math.pi / 2 + np.arange(2 * points) * (math.pi / points)
    return np.stack([r * np.cos(a), -r * np.sin(a)], 1)


def _cross(half_width: float = 0.32) -> np.ndarray:
    w = half_width
    return np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1],
                     [-w, w], [-1, w], [-1, -w], [-w, -w]], dtype=np.float64)


SHAPES: dict[str, list[np.ndarray]] = {
    "circle": [_ngon(48)],
    "square": [np.array([[-0.75, -0.75], [0.75, -0.75], [0.75, 0.75], [-0.75, 0.75]])],
    "triangle": [_ngon(3, phase=math.pi / 2)],
    "star": [_star()],
    "ring": [_ngon(48), _ngon(48, 0.55)[::-1]],
    "cross": [_cross()],
    "hexagon": [_ngon(6)],
}
"""Contours of each plain shape in the local frame, filled together (even-odd: a ring's hole)."""

# Person proportions in the local frame (y grows downwards, the figure spans [-1, 1]).
HEAD_RADIUS = 0.18
_NECK, _SHOULDER_DX, _SHOULDER_Y, _PELVIS = (0.0, -0.6), 0.16, -0.52, (0.0, 0.08)
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.3, 0.28, 0.44, 0.44
LIMB_HALF_WIDTH = 0.07
"""Half the thickness of a limb in local units (at least ``MIN_LIMB_PX`` pixels)."""
MIN_LIMB_PX = 0.9


def random_person_angles(rng: np.random.Generator) -> np.ndarray:
    """A random pose: 8 angles (radians, 0 = limb hanging straight down).

    Order: left/right upper arm, left/right elbow bend, left/right thigh, left/right knee
    bend; positive means away from the body's midline for the person's left side
    (the image's +x side, the person faces the viewer).
    """
    lo = np.array([0.15, 0.15, -0.8, -0.8, 0.05, 0.05, -0.4, -0.4])
    hi = np.array([2.2, 2.2, 0.8, 0.8, 0.45, 0.45, 0.1, 0.1])
    return lo + (hi - lo) * rng.random(8)


def person_keypoints(angles: np.ndarray) -> np.ndarray:
    """Local keypoints Tensor[13, 2] in ``PERSON_KEYPOINTS`` order for a pose (8 angles)."""
    a = [float(v) for v in angles]
    kp = [(0.0, -1.0 + HEAD_RADIUS), _NECK, (_SHOULDER_DX, _SHOULDER_Y),
          (-_SHOULDER_DX, _SHOULDER_Y), None, None, None, None, _PELVIS, None, None, None, None]
    for side, sign in ((0, 1.0), (1, -1.0)):
        for root, mid, tip, first, bend, l1, l2 in (
                (2 + side, 4 + side, 6 + side, a[side], a[2 + side], _UPPER_ARM, _FOREARM),
                (8, 9 + side, 11 + side, a[4 + side], a[6 + side], _THIGH, _SHIN)):
            x, y = kp[root]
            x, y = x + l1 * sign * math.sin(first), y + l1 * math.cos(first)
            kp[mid] = (x, y)
            kp[tip] = (x + l2 * sign * math.sin(first + bend), y + l2 * math.cos(first + bend))
    return np.array(kp)


_LIMB_A = np.array([a for a, _ in PERSON_SKELETON[1:]])
_LIMB_B = np.array([b for _, b in PERSON_SKELETON[1:]])
_UNIT_24, _UNIT_12 = _ngon(24), _ngon(12)


def _ends(sizes: list[int]) -> tuple[int, ...]:
    """Offsets (0, n0, n0 + n1, ...) of contours of ``sizes`` points stacked in one array."""
    return tuple(int(e) for e in np.cumsum([0, *sizes]))


_SHAPE_POINTS = {THING_CLASSES.index(k): np.concatenate(v) for k, v in SHAPES.items()}
_SHAPE_ENDS = {THING_CLASSES.index(k): _ends([len(c) for c in v]) for k, v in SHAPES.items()}
_PERSON_ENDS = _ends([len(_UNIT_24)] + [4] * len(_LIMB_A) + [len(_UNIT_12)]
                     * (len(PERSON_KEYPOINTS) - 1))


def _person_parts(kp_img: np.ndarray, scale: float) -> np.ndarray:
    """The convex polygons (image coordinates) that make up a person, stacked [P, 2]: head,
    limbs and joints (split by ``_PERSON_ENDS``)."""
    hw = max(LIMB_HALF_WIDTH * scale, MIN_LIMB_PX)
    a, b = kp_img[_LIMB_A], kp_img[_LIMB_B]  # (L, 2) limb ends
    d = b - a
    n = np.stack([-d[:, 1], d[:, 0]], 1) * (hw / np.maximum(np.hypot(d[:, 0], d[:, 1]),
                                                             1e-6))[:, None]
    quads = np.stack([a + n, b + n, b - n, a - n], 1)  # (L, 4, 2)
    discs = kp_img[1:, None, :] + hw * _UNIT_12  # (K - 1, 12, 2)
    head = kp_img[0] + max(HEAD_RADIUS * scale, 1.2) * _UNIT_24
    return np.concatenate([head, quads.reshape(-1, 2), discs.reshape(-1, 2)])


def outline_points(label: int, pose: np.ndarray, angles: np.ndarray | None
                   ) -> tuple[np.ndarray, tuple[int, ...], np.ndarray | None]:
    """Image-space polygons of a thing stacked in one array, and its keypoints.

    Returns:
        (points, ends, keypoints): points Tensor[P, 2]; contour i is
        points[ends[i]:ends[i + 1]]; for a person every contour is a convex part filled
        on its own, for shapes all contours are filled together (even-odd). keypoints is
        Tensor[K, 2] or None for shapes.
    """
    if label == PERSON:
        kp = apply(pose, person_keypoints(angles))
        return _person_parts(kp, float(math.hypot(pose[0, 0], pose[1, 0]))), _PERSON_ENDS, kp
    return apply(pose, _SHAPE_POINTS[label]), _SHAPE_ENDS[label], None


def outline(label: int, pose: np.ndarray, angles: np.ndarray | None
            ) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Image-space polygons of a thing and its image-space keypoints (None for shapes).

    Returns:
        (contours, keypoints): contours are Tensor[P_i, 2] arrays; for a person every
        contour is a convex part filled on its own, for shapes all contours are filled
        together (even-odd). keypoints is Tensor[K, 2] or None.
    """
    points, ends, kp = outline_points(label, pose, angles)
    return [points[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)], kp


def rasterise(label: int, contours: list[np.ndarray], size: tuple[int, int]
              ) -> tuple[int, int, np.ndarray] | None:
    """Fill the contours on a canvas the size of their bounding box (clipped to the image).

    Returns:
        (x0, y0, mask) with mask a uint8 array [h, w] of 0/1 whose pixel (0, 0) is image
        pixel (x0, y0), or None when the shape misses the image.
    """
    return rasterise_points(label, np.concatenate(contours), _ends([len(c) for c in contours]),
                            size)


def rasterise_points(label: int, points: np.ndarray, ends: tuple[int, ...],
                     size: tuple[int, int], value: int = 1
                     ) -> tuple[int, int, np.ndarray] | None:
    """``rasterise`` of contours stacked as by ``outline_points``, filled with ``value``."""
    h, w = size
    one = 1 << SUBPIXEL_BITS
    pts = np.rint(points * one).astype(np.int32)  # fixed point
    bx, by, bw, bh = cv2.boundingRect(pts)  # bw = max x - min x + 1
    x0 = max((bx >> SUBPIXEL_BITS) - 1, 0)
    y0 = max((by >> SUBPIXEL_BITS) - 1, 0)
    x1 = min(-(-(bx + bw - 1) >> SUBPIXEL_BITS) + 2, w)  # ceil of the largest x, + 2
    y1 = min(-(-(by + bh - 1) >> SUBPIXEL_BITS) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return None
    pts -= np.array([x0 * one, y0 * one], np.int32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    if label == PERSON:
        for a, b in zip(ends[:-1], ends[1:], strict=True):
            cv2.fillConvexPoly(mask, pts[a:b], value, cv2.LINE_8, SUBPIXEL_BITS)
    elif len(ends) == 2:
        cv2.fillPoly(mask, [pts], value, cv2.LINE_8, shift=SUBPIXEL_BITS)
    else:
        cv2.fillPoly(mask, [pts[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)], value,
                     cv2.LINE_8, shift=SUBPIXEL_BITS)
    return x0, y0, mask
