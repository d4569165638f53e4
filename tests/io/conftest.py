"""Hand-made scenes for the format tests (independent of the synthetic world)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from seesall.structures import Objects, Scene

CLASS_NAMES = ["disc", "box", "person"]
KEYPOINT_NAMES = ["head", "hip", "foot"]
SKELETON = [(0, 1), (1, 2)]


def make_scene(seed: int = 0, h: int = 40, w: int = 56, image_id: int = 1) -> Scene:
    """Three objects (an ellipse, a ring with a hole, a rectangle person) with every field."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((3, h, w), np.uint8)
    cv2.ellipse(masks[0], (14, 12), (9, 6), 20.0, 0, 360, 1, -1)
    cv2.circle(masks[1], (38, 24), 10, 1, -1)
    cv2.circle(masks[1], (38, 24), 4, 0, -1)  # a hole
    masks[2, 26:38, 4:12] = 1
    masks[0] &= 1 - masks[1]
    masks = masks.astype(bool)
    boxes = []
    for m in masks:
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    kp = torch.zeros(3, 3, 2)
    vis = torch.zeros(3, 3, dtype=torch.uint8)
    kp[2] = torch.tensor([[7.5, 27.25], [8.0, 31.5], [6.0, 36.75]])
    vis[2] = torch.tensor([2, 1, 2], dtype=torch.uint8)
    image = torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))
    objects = Objects(
        labels=torch.tensor([0, 1, 2]),
        boxes=tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32), format="XYXY",
                                       canvas_size=(h, w)),
        masks=tv_tensors.Mask(torch.from_numpy(masks)),
        keypoints=tv_tensors.KeyPoints(kp, canvas_size=(h, w)),
        visibility=vis,
        ids=torch.tensor([5, 9, 2]),
        depth=torch.tensor([3.0, 1.0, 2.0]),
    )
    return Scene(image=tv_tensors.Image(image), objects=objects, image_id=image_id,
                 file_name=f"img_{image_id}.png")


@pytest.fixture
def scene() -> Scene:
    return make_scene()


@pytest.fixture(name="make_scene")
def make_scene_fixture():  # noqa: ANN201
    """The scene factory itself, for tests that need several scenes."""
    return make_scene
