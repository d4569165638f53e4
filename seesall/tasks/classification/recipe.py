"""Classification's recipe for the engine (see :mod:`seesall.engine` for the protocol)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.engine.config import RunConfig
from seesall.engine.recipe import VAL_SEED_OFFSET, TaskParts, pick_model, task_options
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


@dataclass(frozen=True)
class TaskConfig:
    """Options of the classification task (YAML section ``task:``)."""

    scene_size: int = field(default=64, metadata={"help": "world scene side in pixels (crops are cut from it)"})
    max_objects: int = field(default=3, metadata={"help": "most objects per world scene"})
    world_seed: int = field(default=0, metadata={"help": "first world scene seed of the training set"})
    label_smoothing: float = field(default=0.0, metadata={"help": "cross-entropy label smoothing"})


def world_crops(cfg: RunConfig, *, n: int, seed: int) -> WorldCrops:
    """n world crops of the run's crop size and world settings, scenes from ``seed``."""
    t = task_options(cfg, TaskConfig)
    world = WorldConfig(size=(t.scene_size, t.scene_size), num_objects=(1, max(t.max_objects, 1)))
    return WorldCrops(n=n, crop_size=cfg.data.image_size, seed=seed, world=world)


def _datasets(cfg: RunConfig) -> tuple[Dataset, Dataset | None, list[str]]:
    d, t = cfg.data, task_options(cfg, TaskConfig)
    if d.source == "world":
        train = world_crops(cfg, n=d.train_size, seed=t.world_seed)
        val = None
        if d.val_size > 0:
            val = world_crops(cfg, n=d.val_size, seed=t.world_seed + VAL_SEED_OFFSET)
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
    return pick_model(NAME, MODELS, name)(num_classes=num_classes or len(world_class_names()))


def model_inputs(batch: tuple[Tensor, Tensor]) -> tuple[Tensor]:
    return (normalize_image(batch[0]),)


def _loss(logits: Tensor, batch: tuple[Tensor, Tensor], *, label_smoothing: float) -> dict[str, Tensor]:
    return classification_loss(logits, batch[1], label_smoothing=label_smoothing)


def postprocess_batch(logits: Tensor, batch: tuple[Tensor, Tensor]) -> Tensor:
    return postprocess(logits)


def build(cfg: RunConfig) -> TaskParts:
    """Model, loss, data and top-1/top-5 evaluation for one run."""
    train_set, val_set, classes = _datasets(cfg)
    model = build_model(cfg.model.name or DEFAULT_MODEL, cfg, num_classes=len(classes))
    return TaskParts(
        model=model,
        loss=functools.partial(_loss, label_smoothing=task_options(cfg, TaskConfig).label_smoothing),
        inputs=model_inputs,
        postprocess=postprocess_batch,
        make_evaluator=TopKAccuracy,
        train_set=train_set,
        val_set=val_set,
        collate=collate_crops,
        class_names=classes,
        best_metric="top1",
        best_mode="max",
    )
