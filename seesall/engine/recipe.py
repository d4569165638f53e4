"""The recipe protocol: how a task plugs into the engine (see :mod:`seesall.engine`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.engine.config import RunConfig
from seesall.engine.evaluation import Evaluator


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


class Recipe(Protocol):
    """A task module ``seesall/tasks/<task>/recipe.py`` satisfies this structurally.

    Attributes:
        NAME: the task name used on the command line (``seesall train NAME``).
        MODELS: the task's model table, a plain dict name -> factory.
        DEFAULT_MODEL: the model trained when ``--model`` is not given.
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
