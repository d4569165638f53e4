"""Shared fixtures: small hand-made scenes whose labels are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from seesall.structures import Flow, Objects, Scene

torch.set_num_threads(1)


@pytest.fixture
def randomize_bn():
    """A function giving a model's BatchNorm layers random running statistics and affine
    parameters, so that BatchNorm in eval mode is far from the identity."""

    def randomize(model: torch.nn.Module) -> None:
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                with torch.no_grad():
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)

    return randomize


def smooth_texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image (uint8 [H, W, 3]) so bilinear sampling error stays small."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w, 3))
    for c in range(3):
        for _ in range(3):
            fx, fy, ph = rng.uniform(0.02, 0.12), rng.uniform(0.02, 0.12), rng.uniform(0, 6.28)
            out[..., c] += np.sin(fx * xs + fy * ys + ph)
    out = (out - out.min()) / (out.max() - out.min())
    return (out * 255).astype(np.uint8)


def make_scene(h: int = 48, w: int = 64, shift: tuple[int, int] = (3, 2)) -> Scene:
    """Two rectangles on a smooth background; frame 2 is frame 1 moved by ``shift`` (dx, dy).

    Object 0 (label 1) covers rows 5..19, cols 10..29; object 1 (label 4) rows 25..39,
    cols 30..54. Object 0 carries three key points (two visible, one occluded).
    """
    img = smooth_texture(h + 20, w + 20)
    dx, dy = shift
    f1 = img[10 : 10 + h, 10 : 10 + w]
    f2 = img[10 - dy : 10 - dy + h, 10 - dx : 10 - dx + w]  # content moves by +shift
    masks = torch.zeros(2, h, w, dtype=torch.bool)
    masks[0, 5:20, 10:30] = True
    masks[1, 25:40, 30:55] = True
    boxes = tv_tensors.BoundingBoxes(
        torch.tensor([[10.0, 5, 30, 20], [30, 25, 55, 40]]), format="XYXY", canvas_size=(h, w)
    )
    kp = torch.zeros(2, 3, 2)
    kp[0] = torch.tensor([[12.0, 7], [27, 7], [20, 18]])
    vis = torch.tensor([[2, 2, 1], [0, 0, 0]], dtype=torch.uint8)
    objects = Objects(
        labels=torch.tensor([1, 4]),
        boxes=boxes,
        masks=tv_tensors.Mask(masks),
        keypoints=tv_tensors.KeyPoints(kp, canvas_size=(h, w)),
        visibility=vis,
        ids=torch.tensor([7, 9]),
        depth=torch.tensor([1.0, 2.0]),
    )
    semantic = torch.zeros(h, w, dtype=torch.int64)
    semantic[masks[1]] = 3 + 4
    semantic[masks[0]] = 3 + 1
    flow = torch.zeros(2, h, w)
    flow[0], flow[1] = float(dx), float(dy)
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    valid = (xs + dx < w) & (ys + dy < h) & (xs + dx >= 0) & (ys + dy >= 0)
    to_img = lambda a: tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1))  # noqa: E731
    return Scene(
        image=to_img(f1),
        image2=to_img(f2),
        objects=objects,
        semantic=tv_tensors.Mask(semantic),
        depth=tv_tensors.Mask(torch.full((h, w), 5.0)),
        flow=Flow(flow),
        flow_valid=tv_tensors.Mask(valid),
        file_name="hand-made",
    )


@pytest.fixture
def scene() -> Scene:
    return make_scene()
