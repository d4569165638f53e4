"""Classification's recipe for the engine (see :mod:`seesall.engine` for the protocol)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor, nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts
from seesall.nn.backbones import normalize_image
from seesall.tasks.classification.data import (
    ImageFolderDataset,
    WorldCrops,
    collate_crops,
    world_class_names,
)
from seesall.tasks.classification.metrics import TopKAccuracy
from seesall.tasks.classification.model import MODELS, classification_loss, postprocess
from seesall.world import WorldConfig

NAME = "classification"
DEFAULT_MODEL = "classifier_small"
VAL_SEED_OFFSET = 10_000_000
"""World validation crops use scene seeds from world_seed + this (disjoint from training)."""


@dataclass(frozen=True)
class TaskConfig:
    """Options of the classification task (YAML section ``task:``)."""

    scene_size: int = field(default=64, metadata={"help": "world scene side in pixels (crops are cut from it)"})
    max_objects: int = field(default=3, metadata={"help": "most objects per world scene"})
    world_seed: int = field(default=0, metadata={"help": "first world scene seed of the training set"})
    label_smoothing: float = field(default=0.0, metadata={"help": "cross-entropy label smoothing"})


def _task_cfg(cfg: RunConfig | None) -> TaskConfig:
    return cfg.task if cfg is not None and isinstance(cfg.task, TaskConfig) else TaskConfig()


def _datasets(cfg: RunConfig) -> tuple[object, object | None, list[str]]:
    d, t = cfg.data, _task_cfg(cfg)
    if d.source == "world":
        world = WorldConfig(size=(t.scene_size, t.scene_size), num_objects=(1, max(t.max_objects, 1)))
        train = WorldCrops(n=d.train_size, crop_size=d.image_size, seed=t.world_seed, world=world)
        val = None
        if d.val_size > 0:
            val = WorldCrops(n=d.val_size, crop_size=d.image_size, seed=t.world_seed + VAL_SEED_OFFSET, world=world)
        return train, val, world_class_names()
    root = Path(d.source)
    train_root = root / "train" if (root / "train").is_dir() else root
    train_set = ImageFolderDataset(train_root, crop_size=d.image_size)
    val_set = None
    if (root / "val").is_dir():
        val_set = ImageFolderDataset(root / "val", crop_size=d.image_size, classes=train_set.classes)
    return train_set, val_set, train_set.classes


def build_model(name: str, cfg: RunConfig | None = None, num_classes: int | None = None) -> nn.Module:
    """Model ``name`` with the world's classes (or ``num_classes``)."""
    if name not in MODELS:
        raise ValueError(f"unknown classification model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](num_classes=num_classes or len(world_class_names()))


def _inputs(batch: tuple[Tensor, Tensor]) -> tuple[Tensor]:
    return (normalize_image(batch[0]),)


def _loss(logits: Tensor, batch: tuple[Tensor, Tensor], *, label_smoothing: float) -> dict[str, Tensor]:
    return classification_loss(logits, batch[1], label_smoothing=label_smoothing)


def _postprocess(logits: Tensor, batch: tuple[Tensor, Tensor]) -> Tensor:
    return postprocess(logits)


def build(cfg: RunConfig) -> TaskParts:
    """Model, loss, data and top-1/top-5 evaluation for one run."""
    train_set, val_set, classes = _datasets(cfg)
    model = build_model(cfg.model.name or DEFAULT_MODEL, cfg, num_classes=len(classes))
    return TaskParts(
        model=model,
        loss=functools.partial(_loss, label_smoothing=_task_cfg(cfg).label_smoothing),
        inputs=_inputs,
        postprocess=_postprocess,
        make_evaluator=TopKAccuracy,
        train_set=train_set,
        val_set=val_set,
        collate=collate_crops,
        class_names=classes,
        best_metric="top1",
        best_mode="max",
    )
