"""Painting one frame: the background, then every thing from far to near.

The painter's algorithm gives each pixel the colour, depth and identity of the
nearest layer that covers it; the identity map is what every label is read from
(visible masks, boxes, keypoint visibility, semantic map, flow validity).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from seesall.world.background import Backdrop
from seesall.world.classes import semantic_id_of_thing
from seesall.world.geometry import compose, outline_points, rasterise_points, snap
from seesall.world.textures import paint
from seesall.world.things import Thing

Region = tuple[int, int, np.ndarray]
"""(x0, y0, mask): a uint8 mask (non-zero inside) whose pixel (0, 0) is image pixel (x0, y0)."""


@dataclass
class Frame:
    """One painted frame.

    Attributes:
        image: uint8 [H, W, 4] (RGB and 255, see ``textures``).
        ids: uint8 [H, W]; 0 = background, i + 1 = the i-th thing of the painting order.
        depth: float32 [H, W] depth of the visible surface, or None.
        semantic: uint8 [H, W] semantic ids (``SEMANTIC_CLASSES``), or None.
        regions: per thing, where its full (amodal) shape was filled, or None off-image.
        keypoints: per thing, image-space keypoints [K, 2] (pixel centres) or None.
    """

    image: np.ndarray
    ids: np.ndarray
    depth: np.ndarray | None
    semantic: np.ndarray | None
    regions: list[Region | None]
    keypoints: list[np.ndarray | None]
    _shows: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def shows(self, i: int) -> np.ndarray:
        """bool [h, w] over region i (not None): where thing i is the nearest layer (cached:
        the labels and the flow both read it)."""
        if i not in self._shows:
            x0, y0, mask = self.regions[i]
            self._shows[i] = self.ids[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]] == i + 1
        return self._shows[i]


def paint_frame(backdrop: Backdrop, things: list[Thing], size: tuple[int, int],
                poses: list[np.ndarray] | None = None, angles: list[np.ndarray | None] | None = None,
                background_motion: np.ndarray | None = None, labels: bool = True,
                consume: bool = False) -> Frame:
    """Paint the background and the things (already sorted far to near).

    Args:
        poses: per thing the 3x3 local -> image pose of this frame (default: first frame).
        angles: per thing the person's limb angles of this frame (default: first frame).
        background_motion: 3x3 first-frame image -> this frame image motion of the
            background, or None for the first frame (a crop of the canvas).
        labels: also paint the depth and semantic maps.
        consume: paint the first frame straight onto the canvas (which is then
            spent: only for a backdrop that nothing reads afterwards, no kinematogram).
    """
    h, w = size
    poses = [t.pose for t in things] if poses is None else poses
    angles = [t.angles for t in things] if angles is None else angles
    image, semantic, depth = _background(backdrop, size, background_motion, labels, consume)
    ids = np.zeros((h, w), np.uint8)
    regions: list[Region | None] = []
    keypoints: list[np.ndarray | None] = []
    for i, (thing, pose, ang) in enumerate(zip(things, poses, angles, strict=True)):
        points, ends, kp = outline_points(thing.label, pose, ang)
        keypoints.append(kp)
        filled = rasterise_points(thing.label, points, ends, size, value=i + 1)
        if filled is None:
            regions.append(None)
            continue
        x0, y0, mask = filled  # mask: i + 1 inside, 0 outside
        regions.append(filled)
        sl = (slice(y0, y0 + mask.shape[0]), slice(x0, x0 + mask.shape[1]))
        paste(image[sl], _texture(thing, pose, x0, y0, mask.shape), mask)
        cv2.max(ids[sl], mask, dst=ids[sl])  # ids grow with the painting order: mask wins
        if labels:
            paste(depth[sl], thing.depth, mask)
            paste(semantic[sl], semantic_id_of_thing(thing.label), mask)
    return Frame(image, ids, depth, semantic, regions, keypoints)


def paste(dst: np.ndarray, src: np.ndarray | float, mask: np.ndarray) -> None:
    """dst[mask] = src in place (OpenCV's masked copy: much faster than ``np.copyto``).

    Args:
        dst: a (view of an) array [h, w] or [h, w, C]; src: an array like dst or a scalar;
        mask: uint8 [h, w], non-zero where to copy.
    """
    if not isinstance(src, np.ndarray):
        src = np.full(dst.shape, src, dst.dtype)
    cv2.copyTo(src, mask, dst)


def _texture(thing: Thing, pose: np.ndarray, x0: int, y0: int, shape: tuple[int, int]
             ) -> np.ndarray:
    """The thing's texture warped into its region (h, w, 4)."""
    a, b, tx, c, d, ty = snap(compose(pose, thing.texture_to_local, -x0, -y0))
    h, w = shape
    if (a, b, c, d) == (1.0, 0.0, 0.0, 1.0):  # an integer shift: a plain (exact) crop
        tx, ty = int(-tx), int(-ty)
        src = thing.texture
        if 0 <= tx and 0 <= ty and ty + h <= src.shape[0] and tx + w <= src.shape[1]:
            return src[ty:ty + h, tx:tx + w]
    return paint(thing.texture, np.array([[a, b, tx], [c, d, ty]]), shape, thing.border)


def _background(backdrop: Backdrop, size: tuple[int, int], motion: np.ndarray | None,
                labels: bool, consume: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    h, w = size
    if motion is None:
        image, stuff, depth = backdrop.crop(h, w, copy=not consume)
        return image, (stuff if labels else None), (depth if labels else None)
    m = (motion @ backdrop.to_image())[:2]
    image = cv2.warpAffine(backdrop.image, m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    if not labels:
        return image, None, None
    # The labels cover the first frame's image only: beyond it they continue by reflection.
    stuff = cv2.warpAffine(backdrop.stuff, motion[:2], (w, h), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_REFLECT)
    depth = cv2.warpAffine(backdrop.depth, motion[:2], (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    return image, stuff, depth
