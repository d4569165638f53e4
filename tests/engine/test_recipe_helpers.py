"""The helpers every recipe shares: options, model look-up, world train/val splits."""

from dataclasses import dataclass

import pytest
import torch

from seesall.engine.config import DataConfig, RunConfig
from seesall.engine.recipe import VAL_SEED_OFFSET, pick_model, task_options, world_splits
from seesall.world import WorldConfig, render_scene


@dataclass(frozen=True)
class Options:
    world_seed: int = 3


def test_task_options_defaults_unless_the_run_is_of_this_task() -> None:
    assert task_options(None, Options) == Options()
    assert task_options(RunConfig(task_name="x", out="o", task=Options(7)), Options).world_seed == 7
    assert task_options(RunConfig(task_name="x", out="o", task=object()), Options) == Options()


def test_pick_model_names_the_table() -> None:
    assert pick_model("demo", {"a": int}, "a") is int
    with pytest.raises(ValueError, match="unknown demo model 'b'; choose from a, c"):
        pick_model("demo", {"a": int, "c": int}, "b")


def test_world_splits_sizes_seeds_and_source() -> None:
    world = WorldConfig(size=(32, 32))
    cfg = RunConfig(task_name="x", out="o", data=DataConfig(train_size=3, val_size=2))
    train, val = world_splits(cfg, "scene", world, seed=5)
    assert (len(train), len(val)) == (3, 2)
    assert torch.equal(train[1].image, render_scene(world, 6).image)
    assert torch.equal(val[0].image, render_scene(world, 5 + VAL_SEED_OFFSET).image)
    no_val = RunConfig(task_name="x", out="o", data=DataConfig(train_size=3, val_size=0))
    assert world_splits(no_val, "scene", world, seed=0)[1] is None
    coco = RunConfig(task_name="x", out="o", data=DataConfig(source="coco:a.json"))
    with pytest.raises(ValueError, match="data.source 'coco:a.json'"):
        world_splits(coco, "scene", world, seed=0)
