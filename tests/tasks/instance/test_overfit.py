"""Instance and keypoint models fit a batch of two world scenes (slow)."""

from __future__ import annotations

import pytest
import torch

from seesall.structures import collate
from seesall.tasks.instance.models import INSTANCE_MODELS
from seesall.tasks.keypoints.models import KEYPOINT_MODELS
from seesall.world import PERSON_KEYPOINTS, THING_CLASSES, WorldConfig, render_scene

PERSON = THING_CLASSES.index("person")


def _fit(seg, scenes, steps: int) -> tuple[dict[str, float], dict[str, float]]:
    b = collate(scenes, size_divisible=32)
    targets = [s.objects for s in scenes]
    opt = torch.optim.Adam(seg.model.parameters(), lr=1e-3)
    first = {}
    for i in range(steps):
        losses = seg.losses(b.images, targets)
        if i == 0:
            first = {k: float(v) for k, v in losses.items()}
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    return first, {k: float(v) for k, v in losses.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mask_rcnn_small", "solo_small", "solo_small_vanilla"])
def test_instance_models_overfit(name: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    scenes = [render_scene(WorldConfig(size=(64, 64), num_objects=(2, 3)), s) for s in range(2)]
    seg = INSTANCE_MODELS[name](num_classes=len(THING_CLASSES))
    first, last = _fit(seg, scenes, 100)
    assert last["loss_mask"] < 0.5 * first["loss_mask"], (first, last)
    assert sum(last.values()) < 0.5 * sum(first.values()), (first, last)


@pytest.mark.slow
def test_keypoint_rcnn_overfits() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = WorldConfig(size=(64, 64), num_objects=(1, 2), classes=("person",), min_size=30)
    scenes = [render_scene(cfg, s) for s in range(2)]
    seg = KEYPOINT_MODELS["keypoint_rcnn_small"](
        num_classes=len(THING_CLASSES), num_keypoints=len(PERSON_KEYPOINTS),
        keypoint_classes=(PERSON,))
    first, last = _fit(seg, scenes, 100)
    assert last["loss_keypoint"] < 0.5 * first["loss_keypoint"], (first, last)
