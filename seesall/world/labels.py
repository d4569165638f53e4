"""From a painted frame to labels: visible masks, tight boxes, keypoints, semantic map.

Conventions of every label the world produces:

* Boxes are XYXY in continuous pixel coordinates where pixel column j covers
  [j, j + 1): the tight box of a visible mask is (min col, min row, max col + 1,
  max row + 1). This equals pycocotools' ``toBbox`` of the mask's RLE
  ([x, y, w, h] with w = max col - min col + 1) converted to XYXY.
* Masks are *visible* (modal) masks: the pixels where the object is the nearest
  layer. Objects with fewer than ``WorldConfig.min_visible_area`` visible pixels
  are dropped from the labels and their visible pixels get ``IGNORE_INDEX`` in the
  semantic map (every other pixel, object borders included, is labelled).
* Keypoints use the same continuous coordinates (the centre of pixel (i, j) is
  (j + 0.5, i + 0.5)); the pixel that contains keypoint (x, y) is
  (floor(y), floor(x)). Visibility is COCO's: 2 = inside the image and that pixel
  shows the person; 1 = inside the image but covered by a nearer object;
  0 = outside the image (coordinates set to (0, 0), as COCO does) or not a person.
* ``Objects.depth`` is the layer depth (world units, larger is farther), the
  depth map holds the depth of the visible surface of every pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torchvision import tv_tensors

from seesall.structures import IGNORE_INDEX, KP_OCCLUDED, KP_VISIBLE, Objects
from seesall.world.classes import PERSON_KEYPOINTS
from seesall.world.render import Frame
from seesall.world.things import Thing

NUM_KEYPOINTS = len(PERSON_KEYPOINTS)


def frame_objects(things: list[Thing], frame: Frame, min_visible_area: int) -> Objects:
    """The labelled objects of a painted frame, in track-id order.

    Also sets ``IGNORE_INDEX`` in ``frame.semantic`` (when present) where a dropped
    object is visible.
    """
    h, w = frame.ids.shape
    kept: list[tuple[Thing, int, np.ndarray, tuple[int, int, int, int]]] = []
    for i, thing in enumerate(things):
        region = frame.regions[i]
        if region is None:
            continue
        x0, y0, m = region
        sl = (slice(y0, y0 + m.shape[0]), slice(x0, x0 + m.shape[1]))
        visible = frame.shows(i)
        area = int(np.count_nonzero(visible))
        if area < min_visible_area:
            if area and frame.semantic is not None:
                frame.semantic[sl][visible] = IGNORE_INDEX
            continue
        kept.append((thing, i, visible, _tight_box(visible, x0, y0)))
    kept.sort(key=lambda k: k[0].track_id)
    n = len(kept)
    masks = np.zeros((n, h, w), bool)
    keypoints = np.zeros((n, NUM_KEYPOINTS, 2), np.float32)
    visibility = np.zeros((n, NUM_KEYPOINTS), np.uint8)
    for j, (_, i, visible, _) in enumerate(kept):
        x0, y0 = frame.regions[i][:2]
        masks[j, y0:y0 + visible.shape[0], x0:x0 + visible.shape[1]] = visible
        kp = frame.keypoints[i]
        if kp is not None:
            keypoints[j], visibility[j] = _keypoints(kp, frame.ids, i + 1)
    # numpy arrays wrapped by torch.from_numpy: cheaper than torch.tensor on small lists
    return Objects(
        labels=torch.from_numpy(np.array([k[0].label for k in kept], np.int64)),
        boxes=tv_tensors.BoundingBoxes(
            torch.from_numpy(np.array([k[3] for k in kept], np.float32).reshape(n, 4)),
            format="XYXY", canvas_size=(h, w)),
        masks=torch.from_numpy(masks).as_subclass(tv_tensors.Mask),
        keypoints=tv_tensors.KeyPoints(torch.from_numpy(keypoints), canvas_size=(h, w)),
        visibility=torch.from_numpy(visibility),
        ids=torch.from_numpy(np.array([k[0].track_id for k in kept], np.int64)),
        depth=torch.from_numpy(np.array([k[0].depth for k in kept], np.float32)),
    )


def _tight_box(visible: np.ndarray, x0: int, y0: int) -> tuple[int, int, int, int]:
    """XYXY box (x2 = max col + 1) of the True pixels of a region at (x0, y0)."""
    x, y, w, h = cv2.boundingRect(visible.view(np.uint8))  # w = max col - min col + 1
    return x0 + x, y0 + y, x0 + x + w, y0 + y + h


def _keypoints(kp: np.ndarray, ids: np.ndarray, own: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous coordinates [K, 2] and COCO visibility [K] of image-space keypoints."""
    h, w = ids.shape
    xy = kp + 0.5  # pixel centres -> continuous coordinates
    col, row = np.floor(xy[:, 0]).astype(np.int64), np.floor(xy[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    vis = np.zeros(len(kp), np.uint8)
    shows = ids[row[inside], col[inside]] == own
    vis[inside] = np.where(shows, KP_VISIBLE, KP_OCCLUDED)
    xy[~inside] = 0.0
    return xy.astype(np.float32), vis


def to_image(array: np.ndarray) -> tv_tensors.Image:
    """uint8 [H, W, 3 or 4] -> Image[3, H, W] of the first three channels (OpenCV's channel
    split: faster than a transpose)."""
    planes = np.empty((array.shape[2], *array.shape[:2]), np.uint8)
    cv2.split(array, list(planes))  # writes into the views
    return torch.from_numpy(planes[:3]).as_subclass(tv_tensors.Image)  # no checks needed
