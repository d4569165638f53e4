"""Run configuration: frozen dataclasses, loaded from an optional YAML file and CLI flags.

A YAML file has up to five sections, each mapping to one dataclass::

    model:   {name: classifier_small, init: null, freeze: [], freeze_bn: false}
    data:    {source: world, batch_size: 32, ...}
    optim:   {name: adamw, lr: 0.001, ...}
    trainer: {max_steps: 1000, seed: 0, ...}
    task:    {...}   # the recipe's own frozen dataclass (``Recipe.config_class``)

Unknown sections or keys and values of the wrong type are ``ValueError``s naming the
file and the key. CLI flags override the file. The resolved config is written to
``RUN_DIR/config.yaml`` and can be loaded back with :func:`load_run_config`.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seesall.io.atomic import write_text


@dataclass(frozen=True)
class ModelConfig:
    """Which model of the task's table, and how to initialise/freeze it."""

    name: str = ""
    init: str | None = None
    freeze: tuple[str, ...] = ()
    freeze_bn: bool = False


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is batched."""

    source: str = "world"
    image_size: int = 64
    train_size: int = 4096
    val_size: int = 256
    batch_size: int = 32
    num_workers: int = 0


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, learning-rate schedule and gradient clipping."""

    name: Literal["sgd", "adamw"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    backbone_lr_mult: float = 1.0
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    clip_grad_norm: float | None = None


@dataclass(frozen=True)
class TrainerConfig:
    """The loop: budget, seed, precision, logging/eval/checkpoint periods."""

    max_steps: int = 1000
    minutes: float | None = None
    seed: int = 0
    grad_accum: int = 1
    amp: Literal["none", "bf16", "fp16"] = "none"
    compile: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = 0
    log_every: int = 10
    eval_every: int = 0
    checkpoint_every: int = 200
    nonfinite: Literal["stop", "skip"] = "stop"
    best_metric: str = ""
    best_mode: Literal["max", "min"] = "max"
    progress: bool = True


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; ``task`` is the recipe's own config dataclass (or None)."""

    task_name: str
    out: str
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    task: Any = None

    def __post_init__(self) -> None:
        _check_ranges(self)


SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "optim": OptimConfig,
    "trainer": TrainerConfig,
}


def _check_ranges(cfg: RunConfig) -> None:
    t, d, o = cfg.trainer, cfg.data, cfg.optim
    positive = {
        "trainer.max_steps": t.max_steps,
        "trainer.grad_accum": t.grad_accum,
        "trainer.log_every": t.log_every,
        "data.batch_size": d.batch_size,
        "data.image_size": d.image_size,
        "data.train_size": d.train_size,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ValueError(f"config {key} must be > 0, got {value}")
    non_negative = {
        "trainer.eval_every": t.eval_every,
        "trainer.checkpoint_every": t.checkpoint_every,
        "data.num_workers": d.num_workers,
        "data.val_size": d.val_size,
        "optim.warmup_steps": o.warmup_steps,
        "optim.weight_decay": o.weight_decay,
    }
    for key, value in non_negative.items():
        if value < 0:
            raise ValueError(f"config {key} must be >= 0, got {value}")
    if o.lr <= 0:
        raise ValueError(f"config optim.lr must be > 0, got {o.lr}")
    if t.minutes is not None and t.minutes <= 0:
        raise ValueError(f"config trainer.minutes must be > 0, got {t.minutes}")


def _type_error(where: str, key: str, hint: Any, value: Any) -> ValueError:
    name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    return ValueError(f"{where}: {key} must be {name}, got {value!r} ({type(value).__name__})")


def coerce(hint: Any, value: Any, where: str, key: str) -> Any:
    """Check ``value`` against the type ``hint`` (int, float, bool, str, Literal, Optional,
    tuple[X, ...]); return it converted (int -> float, list -> tuple) or raise ValueError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, where, key)
            except ValueError:
                pass
        raise _type_error(where, key, hint, value)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"{where}: {key} must be one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin is tuple:
        (item, _ellipsis) = typing.get_args(hint)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple):
            raise _type_error(where, key, hint, value)
        return tuple(coerce(item, v, where, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise _type_error(where, key, hint, value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(where, key, hint, value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(where, key, hint, value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _type_error(where, key, hint, value)
        return value
    raise TypeError(f"{where}: unsupported config type {hint} for {key}")


def from_mapping(cls: type, mapping: Any, where: str, section: str) -> Any:
    """Build the frozen dataclass ``cls`` from a mapping; unknown keys and bad types raise."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: section {section!r} must be a mapping, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in mapping:
        if key not in names:
            raise ValueError(f"{where}: unknown key {section}.{key} (known: {', '.join(names)})")
    values = {k: coerce(hints[k], v, where, f"{section}.{k}") for k, v in mapping.items()}
    return cls(**values)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a config file; a missing file or non-mapping top level is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping of sections")
    return data


def build_run_config(
    *,
    task_name: str,
    out: str,
    file_data: dict[str, Any],
    overrides: dict[str, dict[str, Any]],
    task_config_class: type | None,
    where: str,
) -> RunConfig:
    """Merge file sections with CLI ``overrides`` ({section: {key: value}}) into a RunConfig."""
    known = set(SECTIONS) | {"task", "task_name", "out"}
    for section in file_data:
        if section not in known:
            raise ValueError(f"{where}: unknown section {section!r} (known: {', '.join(sorted(known))})")
    file_task = file_data.get("task_name")
    if file_task is not None and file_task != task_name:
        raise ValueError(f"{where}: task_name is {file_task!r} but the command trains {task_name!r}")
    parts: dict[str, Any] = {}
    for section, cls in [*SECTIONS.items(), ("task", task_config_class)]:
        merged = dict(file_data.get(section) or {})
        merged.update(overrides.get(section, {}))
        if cls is None:
            if merged:
                raise ValueError(f"{where}: task {task_name!r} has no task options, got {sorted(merged)}")
            parts[section] = None
            continue
        parts[section] = from_mapping(cls, merged, where, section)
    return RunConfig(task_name=task_name, out=out, **parts)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain dict (tuples as lists) for YAML/JSON."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        return v

    return plain(cfg)


def save_run_config(cfg: RunConfig, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))


def load_run_config(path: str | os.PathLike, task_config_class: type | None) -> RunConfig:
    """Read back a ``config.yaml`` written by :func:`save_run_config`."""
    data = read_yaml(path)
    for key in ("task_name", "out"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"{path}: missing or non-string {key!r}")
    return build_run_config(
        task_name=data["task_name"],
        out=data["out"],
        file_data={k: v for k, v in data.items() if k not in ("task_name", "out")},
        overrides={},
        task_config_class=task_config_class,
        where=str(path),
    )
