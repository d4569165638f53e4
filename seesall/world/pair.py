"""render_pair: two frames, each layer under its own affine motion, with exact flow.

Flow convention (as Middlebury / FlowNet / RAFT): ``flow[:, i, j] = (u, v)``
is where the surface seen at pixel (row i, col j) of frame 1 lands in frame 2,
minus where it was: it lands at (j + u, i + v) (pixel-centre coordinates, the
same shift in the continuous convention). So sampling frame 2 at
(x + u, y + v), e.g. ``cv2.remap(image2, x + u, y + v, INTER_LINEAR)``,
reproduces frame 1. The flow is exact: every layer (each thing and the
background) moves by a known similarity, and the flow of a pixel is that of
the layer it shows.

``flow_valid`` is True where the point is still visible in frame 2: its
landing point lies inside the image and the pixels around it that bilinear
sampling reads show the same layer in frame 2: the 2x2 block whose top-left
pixel is (floor(y + v), floor(x + u)), or the single pixel it lands on for a
layer that moves by an integer translation. It is False where the point
becomes hidden behind a nearer layer, leaves the image, or lands within one
pixel of such a boundary.

Integer motions (``WorldConfig.integer_motion``) make frame 2 an exact shift of
frame 1's layers: warping frame 2 back by the flow reproduces frame 1 at valid
pixels to the grey level. For sub-pixel motions the warp-back error is that of
bilinear resampling smooth textures: a mean of 0.35 grey levels at valid pixels
(worst of 40 pairs 0.66) at 128x128, asserted below 0.75 in the tests.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torchvision import tv_tensors

from seesall.structures import Flow, Scene
from seesall.world.config import WorldConfig
from seesall.world.geometry import about
from seesall.world.labels import to_image
from seesall.world.render import Frame, paint_frame, paste
from seesall.world.scene import MOTION, layout, rng_for, scene_from_frame
from seesall.world.things import Thing

NO_LAYER = 255
"""Layer id of 'outside the image' (real ids are 0 for the background and 1..250)."""


def pair_margin(cfg: WorldConfig) -> int:
    """Canvas margin that keeps the image covered by the moved background."""
    h, w = cfg.size
    half_diag = math.hypot(h, w) / 2
    rot = math.radians(cfg.max_rotation) / 3
    return int(math.ceil(cfg.max_shift * min(h, w) / 2 + (rot + cfg.max_scale_change / 3)
                         * half_diag)) + 2


def random_motion(rng: np.random.Generator, cfg: WorldConfig, centre: tuple[float, float],
                  damping: float = 1.0) -> np.ndarray:
    """A random image-space motion (3x3) about ``centre``; ``damping`` shrinks it."""
    span = cfg.max_shift * min(cfg.size) * damping
    if cfg.integer_motion:
        shift = rng.integers(-int(span), int(span) + 1, 2).astype(np.float64)
        return about(centre, 0.0, 1.0, (shift[0], shift[1]))
    u = [2.0 * v - 1.0 for v in rng.random(4).tolist()]  # one draw, each in [-1, 1)
    angle = math.radians(cfg.max_rotation) * damping * u[0]
    scale = math.exp(math.log1p(cfg.max_scale_change) * damping * u[1])
    return about(centre, angle, scale, (span * u[2], span * u[3]))


def render_pair(cfg: WorldConfig, seed: int) -> Scene:
    """A scene (labels of frame 1) plus ``image2``, ``flow`` and ``flow_valid``.

    Every thing moves by its own similarity about its centre (rotation up to
    ``max_rotation`` degrees, scale change up to ``max_scale_change``, shift up to
    ``max_shift`` of the image; integer shifts only with ``integer_motion``); the
    background moves too (a third of the rotation/scale, half the shift) when
    ``background_motion``. Depth order is the same in both frames.

    Returns:
        Scene with everything ``render_scene`` gives for frame 1, and image2
        (Image[3, H, W] uint8), flow (Flow[2, H, W] float32, frame 1 -> frame 2, pixels)
        and flow_valid (Mask[H, W] bool); see the module docstring for the conventions.
    """
    h, w = cfg.size
    backdrop, things = layout(cfg, seed, pair_margin(cfg))
    rng = rng_for(seed, MOTION)
    bg = (random_motion(rng, cfg, ((w - 1) / 2, (h - 1) / 2), damping=1 / 3)
          if cfg.background_motion else np.eye(3))
    by_id = sorted(things, key=lambda t: t.track_id)
    motion = {t.track_id: random_motion(rng, cfg, t.centre) for t in by_id}
    motions = [motion[t.track_id] for t in things]
    frame2 = paint_frame(backdrop, things, cfg.size, poses=[m @ t.pose for m, t in
                                                            zip(motions, things, strict=True)],
                         background_motion=bg, labels=False)
    # Frame 1 last, straight onto the canvas that frame 2 no longer needs (kinematogram
    # things wear the canvas, so it must stay unpainted for them).
    frame1 = paint_frame(backdrop, things, cfg.size, consume=not cfg.kinematogram)
    flow = layer_flow(frame1, things, motions, bg)
    valid = flow_validity(flow, frame1.ids, frame2.ids, integer_layers([bg, *motions]))
    return scene_from_frame(cfg, things, frame1, seed, image2=to_image(frame2.image),
                            flow=Flow(torch.from_numpy(flow)),
                            flow_valid=torch.from_numpy(valid).as_subclass(tv_tensors.Mask))


def _affine_field(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Displacement m(p) - p on the float32 grid x (1, w) and y (h, 1): two float32 (h, w)."""
    u = float(m[0, 0] - 1.0) * x + (float(m[0, 1]) * y + float(m[0, 2]))
    v = float(m[1, 0]) * x + (float(m[1, 1] - 1.0) * y + float(m[1, 2]))
    return u, v


def layer_flow(frame: Frame, things: list[Thing], motions: list[np.ndarray],
               background: np.ndarray) -> np.ndarray:
    """Flow float32 [2, H, W]: at each pixel the motion of the layer it shows."""
    h, w = frame.ids.shape
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    flow = np.empty((2, h, w), np.float32)
    (a, b, c), (d, e, f) = (background[:2] - np.eye(2, 3)).tolist()
    np.add(np.float32(a) * x, np.float32(b) * y + np.float32(c), out=flow[0])  # one pass each
    np.add(np.float32(d) * x, np.float32(e) * y + np.float32(f), out=flow[1])
    for i, (region, m) in enumerate(zip(frame.regions, motions, strict=True)):
        if region is None:
            continue
        x0, y0, mask = region
        rh, rw = mask.shape
        shows = frame.shows(i).view(np.uint8)
        u, v = _affine_field(m, x[:, x0:x0 + rw], y[y0:y0 + rh])  # each (rh, rw)
        paste(flow[0, y0:y0 + rh, x0:x0 + rw], u, shows)
        paste(flow[1, y0:y0 + rh, x0:x0 + rw], v, shows)
    return flow


def integer_layers(motions: list[np.ndarray]) -> np.ndarray:
    """bool [256] by layer id (0 the background, i + 1 the i-th thing of ``motions[1:]``):
    whether the layer's flow is an integer translation in float32 (as ``layer_flow``
    computes it), so that its landing points are exact pixels."""
    exact = np.zeros(256, bool)
    m = (np.stack(motions)[:, :2] - np.eye(2, 3)).astype(np.float32)  # (L, 2, 3)
    linear_zero = ~m[:, :, :2].reshape(len(motions), 4).any(1)
    shift_whole = (m[:, :, 2] == np.round(m[:, :, 2])).all(1)
    exact[:len(motions)] = linear_zero & shift_whole
    return exact


def flow_validity(flow: np.ndarray, ids1: np.ndarray, ids2: np.ndarray,
                  exact: np.ndarray | None = None) -> np.ndarray:
    """bool [H, W]: the pixels of frame 2 that bilinear sampling reads around the landing
    point exist and show the same layer as frame 1's pixel.

    The landing point (x2, y2) reads the 2x2 block at (floor(x2), floor(y2)); for a
    layer marked in ``exact`` (bool [256] by layer id, see ``integer_layers``) it is a
    pixel and only that pixel is read. One lookup per pixel: frame 2's ids where the
    2x2 block starting there shows one layer, ``NO_LAYER`` elsewhere and outside the
    image (OpenCV's constant border). The block is looked up at the nearest pixel to
    (x2 - 0.5, y2 - 0.5), which is the floor except at an integer coordinate, where it
    is x2 - 1 or x2 (OpenCV rounds half to even): a block holding the landing pixel
    either way, so the check is at worst stricter there.
    """
    h, w = ids1.shape
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    valid = _lookup(_uniform_blocks(ids2), flow[0] + (x - 0.5), flow[1] + (y - 0.5)) == ids1
    if exact is not None and exact.any():
        on_pixel = _lookup(ids2, flow[0] + x, flow[1] + y) == ids1  # exact pixels there
        np.copyto(valid, on_pixel, where=exact[ids1])
    return valid


def _lookup(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ids at the pixel nearest to the float32 coordinates (x, y) (OpenCV rounds half to
    even); ``NO_LAYER`` outside."""
    return cv2.remap(ids, x, y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=NO_LAYER)


_BLOCK = np.ones((2, 2), np.uint8)


def _uniform_blocks(ids: np.ndarray) -> np.ndarray:
    """uint8 [H, W]: ids[i, j] where the 2x2 block ids[i:i + 2, j:j + 2] lies inside the
    image and holds one value, ``NO_LAYER`` elsewhere: the block's minimum where it equals
    its maximum (outside pixels count as ``NO_LAYER``, the largest value)."""
    kw = {"anchor": (0, 0), "borderType": cv2.BORDER_CONSTANT, "borderValue": NO_LAYER}
    lo, hi = cv2.erode(ids, _BLOCK, **kw), cv2.dilate(ids, _BLOCK, **kw)
    return cv2.max(lo, cv2.compare(lo, hi, cv2.CMP_NE))  # CMP_NE gives 255 = NO_LAYER
