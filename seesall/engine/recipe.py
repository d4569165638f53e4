"""The recipe protocol: how a task plugs into the engine (see :mod:`seesall.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.engine.config import RunConfig
from seesall.engine.evaluation import Evaluator

T = TypeVar("T")


@dataclass
class TaskParts:
    """What a task gives the engine for one run. The engine holds no task logic.

    Attributes:
        model: an ``nn.Module``; the engine calls ``model(*inputs(batch))`` and gets raw
            outputs (the same type in train and eval mode).
        loss: ``(outputs, batch) -> dict[str, Tensor]`` of scalars, with a ``"total"`` that
            is back-propagated; the other entries are logged.
        inputs: ``batch -> tuple`` of the model's positional arguments (e.g. the images
            normalised), taken from a batch already on the device.
        postprocess: ``(outputs, batch) -> predictions`` as the evaluator expects them.
        make_evaluator: a fresh :class:`~seesall.engine.evaluation.Evaluator`, or None.
        train_set, val_set: map-style datasets, deterministic per index (the engine's
            sampler decides the order; exact resume relies on it).
        collate: the DataLoader ``collate_fn`` producing a batch; anything with tensors
            (or ``.to(device)``) is moved to the device by the engine.
        class_names: written to the checkpoint sidecar.
        best_metric, best_mode: the evaluator key that selects the ``best`` checkpoint.
        calibrate: ``(model, device) -> None``, or None: fits the model's post-hoc settings
            (e.g. a late-fusion weight) on data the task held out of ``train_set`` (never
            ``val_set``); the engine calls it in eval mode before every evaluation and at the
            final step, so checkpoints and metrics see the calibrated model.
    """

    model: nn.Module
    loss: Callable[[Any, Any], dict[str, Tensor]]
    inputs: Callable[[Any], tuple[Any, ...]]
    postprocess: Callable[[Any, Any], Any]
    make_evaluator: Callable[[], Evaluator] | None
    train_set: Dataset
    val_set: Dataset | None
    collate: Callable[[list[Any]], Any]
    class_names: list[str] = field(default_factory=list)
    best_metric: str = ""
    best_mode: str = "max"
    calibrate: Callable[[nn.Module, torch.device], None] | None = None


class Recipe(Protocol):
    """A task module ``seesall/tasks/<task>/recipe.py`` satisfies this structurally.

    Attributes:
        NAME: the task name used on the command line (``seesall train NAME``).
        MODELS: the task's model table, a plain dict name -> factory.
        DEFAULT_MODEL: the model trained when ``--model`` is not given.
        DEFAULTS: optional ``{section: {key: value}}`` the task needs by default, under the
            config file and flags (``seesall train`` reads it when present).
        TaskConfig: a frozen dataclass of task options (YAML section ``task:``; each field
            becomes a ``--kebab-case`` flag of ``seesall train``, documented by the field's
            ``metadata["help"]``), or None.
    """

    NAME: str
    MODELS: dict[str, Callable[..., nn.Module]]
    DEFAULT_MODEL: str
    TaskConfig: type | None

    def build_model(self, name: str, cfg: RunConfig | None = None) -> nn.Module:
        """Model ``name`` of MODELS as a run with ``cfg`` trains it (None: the defaults)."""
        ...

    def build(self, cfg: RunConfig) -> TaskParts:
        """Everything for one run: model, loss, inputs, post-processing, evaluator, data."""
        ...


VAL_SEED_OFFSET = 10_000_000
"""World validation sets start at the training seed + this (disjoint from training)."""


def task_options(cfg: RunConfig | None, options: type[T]) -> T:
    """``cfg.task`` when ``cfg`` is a run of this task (an ``options`` instance), else the
    defaults of ``options``: recipes call this so that ``build_model(name)`` works alone."""
    task = getattr(cfg, "task", None)
    return task if isinstance(task, options) else options()


def pick_model(task: str, models: Mapping[str, Callable[..., Any]], name: str) -> Callable[..., Any]:
    """The factory of ``name`` in a task's model table, or a ValueError listing the table."""
    if name not in models:
        raise ValueError(f"unknown {task} model {name!r}; choose from {', '.join(models)}")
    return models[name]


def world_splits(cfg: RunConfig, kind: str, world: Any, seed: int) -> tuple[Dataset, Dataset | None]:
    """Training and validation sets (``cfg.data.train_size`` / ``val_size`` items) of world
    ``kind`` ("scene", "pair" or "clip") drawn with ``world`` (a ``WorldConfig``); the
    validation seeds start ``VAL_SEED_OFFSET`` after the training seeds. No validation set
    when ``val_size`` is 0. Raises ValueError unless ``cfg.data.source`` is "world"."""
    from seesall.world.dataset import WorldDataset

    d = cfg.data
    if d.source != "world":
        raise ValueError(f"this task trains on the world only for now, got data.source {d.source!r}")
    train = WorldDataset(kind, d.train_size, world, seed=seed)
    val = WorldDataset(kind, d.val_size, world, seed=seed + VAL_SEED_OFFSET) if d.val_size > 0 else None
    return train, val
