"""Counting clips: static clips do not change, moving discs part (counted by OpenCV components)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from seesall.tasks.video.counting import CountingConfig, counting_set, render_counting_clip
from seesall.world import WorldConfig, render_scene

CFG = CountingConfig()


def _foreground(frame: torch.Tensor, background: torch.Tensor) -> np.ndarray:
    """uint8 mask of the discs: pixels that differ from the empty background and carry the
    colour of the disc's inside (the most frequent such colour)."""
    changed = (frame != background).any(dim=0)
    colours = frame.permute(1, 2, 0)[changed]  # (N, 3)
    values, counts = colours.unique(dim=0, return_counts=True)
    disc = values[counts.argmax()]
    return (frame.permute(1, 2, 0) == disc).all(dim=-1).numpy().astype(np.uint8)


def _components(mask: np.ndarray) -> int:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return int((stats[1:, cv2.CC_STAT_AREA] >= 5).sum())  # label 0 is the background


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_static_clip_is_one_blob_and_moving_discs_part(count):
    seed = 40 + count
    background = render_scene(WorldConfig(size=CFG.size, num_objects=(0, 0)), seed).image
    static = render_counting_clip(CFG, seed, count=count, moving=False)
    moving = render_counting_clip(CFG, seed, count=count, moving=True)
    assert static.shape == (CFG.clip_length, 3, *CFG.size) and static.dtype == torch.uint8
    assert bool((static == static[:1]).all())  # nothing moves
    assert _components(_foreground(static[0], background)) == 1
    assert _components(_foreground(moving[0], background)) == 1  # merged in frame 0
    for seed in range(10):
        moving = render_counting_clip(CFG, seed, count=count, moving=True)
        background = render_scene(WorldConfig(size=CFG.size, num_objects=(0, 0)), seed).image
        assert _components(_foreground(moving[-1], background)) == count  # apart at the end


def test_counting_set_balances_counts_and_motion():
    data = counting_set(CountingConfig(size=(32, 32), clip_length=4), range(16))
    assert data["video"].shape == (16, 4, 3, 32, 32)
    assert data["labels"].tolist() == [0, 1, 2, 3] * 4
    assert data["moving"].tolist() == [False] * 4 + [True] * 4 + [False] * 4 + [True] * 4


def test_bad_count_is_named():
    with pytest.raises(ValueError, match="count"):
        render_counting_clip(CFG, 0, count=5, moving=True)
