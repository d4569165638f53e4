"""The engine: one trainer for every task.

Pieces (each one file): ``config`` (frozen dataclasses from YAML + flags),
``trainer`` (the loop) and ``hooks`` (LR schedule, time budget, evaluation,
checkpoints, logs), ``checkpoint`` (atomic safetensors + JSON, exact resume),
``evaluation`` (the evaluator contract and loop, gathered under DDP), ``data``
(resumable distributed sampling), ``distributed`` (torchrun/DDP plumbing),
``transfer`` (local weight files, freezing, per-group LRs), ``run`` (assembles a
run from a config and a recipe).

How a task plugs in: the recipe protocol
----------------------------------------
A task provides a module ``seesall/tasks/<task>/recipe.py`` and adds ONE line
``"<task>": <task>`` (the imported recipe module) to ``_recipes()`` in
``seesall/cli/train.py``. The module defines (see :class:`~seesall.engine.recipe.Recipe`):

``NAME: str``
    the task name (``seesall train NAME``).
``MODELS: dict[str, Callable[..., nn.Module]]``
    the model table (plain dict of factories); ``seesall models`` lists it.
``DEFAULT_MODEL: str``
    used when ``--model`` is not given.
``DEFAULTS: dict[str, dict[str, Any]]`` (optional)
    the task's own defaults, ``{section: {key: value}}``, under the config file and
    flags (e.g. a warm-up the task's losses need); saved in the run's ``config.yaml``.
``TaskConfig: type | None``
    a frozen dataclass of task options, read from the YAML section ``task:``; each
    field becomes a ``--kebab-case`` flag of ``seesall train`` (help text from
    ``field(metadata={"help": ...})``); only int/float/str/bool fields.
``build_model(name: str, cfg: RunConfig | None = None) -> nn.Module``
    the model as the task trains it by default (used by ``seesall models`` and eval).
``build(cfg: RunConfig) -> TaskParts``
    everything for one run (:class:`~seesall.engine.recipe.TaskParts`):

    - ``model``: ``model(*inputs(batch))`` returns raw outputs, same type in train/eval;
    - ``loss(outputs, batch) -> dict[str, Tensor]`` with a ``"total"`` (back-propagated;
      every entry is logged);
    - ``inputs(batch) -> tuple``: the model's arguments from a device batch (normalise
      uint8 images here with :func:`seesall.nn.normalize_image`);
    - ``postprocess(outputs, batch) -> predictions`` for the evaluator;
    - ``make_evaluator() -> Evaluator`` (``reset / update(predictions, batch) /
      compute() -> dict[str, float] / state() / merge(states)``) or None;
    - ``train_set`` / ``val_set``: map-style datasets, deterministic per index (the
      engine's sampler orders them; exact resume relies on it); ``collate`` builds a
      batch of tensors / objects with ``.to(device)`` (e.g. :class:`SceneBatch`);
    - ``class_names`` (checkpoint sidecar), ``best_metric`` / ``best_mode`` (selects
      ``checkpoints/best``).

The engine never looks inside outputs or batches beyond moving them to the device.
"""

from seesall.engine.checkpoint import load_checkpoint, save_checkpoint
from seesall.engine.config import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    TrainerConfig,
    build_run_config,
    load_run_config,
    save_run_config,
)
from seesall.engine.evaluation import Evaluator, evaluate
from seesall.engine.recipe import Recipe, TaskParts
from seesall.engine.trainer import Hook, NonFiniteLossError, Trainer

__all__ = [
    "DataConfig",
    "Evaluator",
    "Hook",
    "ModelConfig",
    "NonFiniteLossError",
    "OptimConfig",
    "Recipe",
    "RunConfig",
    "TaskParts",
    "Trainer",
    "TrainerConfig",
    "build_run_config",
    "evaluate",
    "load_checkpoint",
    "load_run_config",
    "save_checkpoint",
    "save_run_config",
]
