"""``seesall train TASK ...``: train any task's model through the engine.

Flags override an optional ``--config YAML``; ``--resume RUN_DIR`` continues a run
from its ``config.yaml`` and last checkpoint (flags given again override, e.g. a
larger ``--max-steps``). Launch with ``torchrun --nproc_per_node N -m seesall.cli.main
train ...`` for data-parallel training (see docs/distributed.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

from seesall.engine.config import build_run_config, read_yaml
from seesall.tasks.classification import recipe as classification
from seesall.tasks.detection import recipe as detection
from seesall.tasks.embedding import recipe as embedding
from seesall.tasks.flow import recipe as flow
from seesall.tasks.instance import recipe as instance
from seesall.tasks.keypoints import recipe as keypoints
from seesall.tasks.panoptic import recipe as panoptic
from seesall.tasks.semantic import recipe as semantic
from seesall.tasks.video import recipe as action

HELP = "Train a task's model (the synthetic world or your data) into a run directory."


def _recipes() -> dict[str, ModuleType]:
    """Task name -> its recipe module ``seesall.tasks.<task>.recipe`` (see seesall.engine)."""
    return {
        "classification": classification,
        "semantic": semantic,
        "instance": instance,
        "keypoints": keypoints,
        "detection": detection,
        "flow": flow,
        "action": action,
        "embedding": embedding,
        "panoptic": panoptic,
    }


def _csv_ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


# (flag, section, key, argparse keyword arguments); every flag defaults to "not given".
_FLAGS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("--model", "model", "name", {"metavar": "NAME", "help": "model name of the task's table (see `seesall models`)"}),
    (
        "--init",
        "model",
        "init",
        {
            "metavar": "PATH",
            "help": "initialise the backbone from a local weight file "
            "(safetensors or weights-only .pt/.pth; torchvision key names accepted)",
        },
    ),
    (
        "--freeze",
        "model",
        "freeze",
        {
            "metavar": "PATTERN",
            "action": "append",
            "help": "freeze parameters: a "
            "stage number N (backbone stem..stage N), a glob like 'backbone.layer1.*', "
            "or re:REGEX; repeatable",
        },
    ),
    (
        "--freeze-bn",
        "model",
        "freeze_bn",
        {"action": "store_const", "const": True, "help": "replace BatchNorm by FrozenBatchNorm2d (fixed statistics)"},
    ),
    (
        "--data",
        "data",
        "source",
        {"metavar": "world|PATH", "help": "'world' (the synthetic world) or a dataset path in the task's format"},
    ),
    ("--image-size", "data", "image_size", {"type": int, "metavar": "PX", "help": "model input size in pixels"}),
    ("--train-size", "data", "train_size", {"type": int, "metavar": "N", "help": "world training samples"}),
    ("--val-size", "data", "val_size", {"type": int, "metavar": "N", "help": "world validation samples (0: none)"}),
    (
        "--batch-size",
        "data",
        "batch_size",
        {
            "type": int,
            "metavar": "B",
            "help": "samples per process per micro-batch (global batch = B x processes x grad-accum)",
        },
    ),
    ("--workers", "data", "num_workers", {"type": int, "metavar": "N", "help": "DataLoader worker processes"}),
    ("--optimizer", "optim", "name", {"choices": ["sgd", "adamw"], "help": "optimiser"}),
    ("--lr", "optim", "lr", {"type": float, "help": "base learning rate"}),
    ("--weight-decay", "optim", "weight_decay", {"type": float, "help": "weight decay (not on biases/norms)"}),
    ("--momentum", "optim", "momentum", {"type": float, "help": "SGD momentum"}),
    (
        "--backbone-lr-mult",
        "optim",
        "backbone_lr_mult",
        {"type": float, "metavar": "X", "help": "backbone learning rate = lr x X"},
    ),
    ("--schedule", "optim", "schedule", {"choices": ["cosine", "step", "constant"], "help": "LR schedule"}),
    ("--warmup-steps", "optim", "warmup_steps", {"type": int, "metavar": "N", "help": "linear LR warm-up steps"}),
    ("--min-lr-ratio", "optim", "min_lr_ratio", {"type": float, "help": "cosine floor as a fraction of lr"}),
    (
        "--milestones",
        "optim",
        "milestones",
        {"type": _csv_ints, "metavar": "S1,S2", "help": "steps where the step schedule multiplies the LR by --gamma"},
    ),
    ("--gamma", "optim", "gamma", {"type": float, "help": "step-schedule factor"}),
    (
        "--clip-grad-norm",
        "optim",
        "clip_grad_norm",
        {"type": float, "metavar": "NORM", "help": "clip the global gradient norm"},
    ),
    ("--max-steps", "trainer", "max_steps", {"type": int, "metavar": "N", "help": "optimiser steps to train"}),
    (
        "--minutes",
        "trainer",
        "minutes",
        {"type": float, "metavar": "M", "help": "stop after M minutes of training (checkpoint + eval at the stop)"},
    ),
    ("--seed", "trainer", "seed", {"type": int, "metavar": "S", "help": "seed of model init, data order, RNG"}),
    ("--grad-accum", "trainer", "grad_accum", {"type": int, "metavar": "K", "help": "micro-batches per step"}),
    (
        "--amp",
        "trainer",
        "amp",
        {
            "choices": ["none", "bf16", "fp16"],
            "help": "autocast precision (bf16 on CPU or CUDA, fp16 with loss scaling on CUDA)",
        },
    ),
    ("--compile", "trainer", "compile", {"action": "store_const", "const": True, "help": "torch.compile the model"}),
    ("--device", "trainer", "device", {"choices": ["auto", "cpu", "cuda"], "help": "device (auto: CUDA if present)"}),
    ("--threads", "trainer", "threads", {"type": int, "metavar": "N", "help": "torch CPU threads (0: default)"}),
    ("--log-every", "trainer", "log_every", {"type": int, "metavar": "N", "help": "log scalars every N steps"}),
    (
        "--eval-every",
        "trainer",
        "eval_every",
        {"type": int, "metavar": "N", "help": "evaluate every N steps (0: at the end only)"},
    ),
    (
        "--checkpoint-every",
        "trainer",
        "checkpoint_every",
        {"type": int, "metavar": "N", "help": "save checkpoints/last every N steps"},
    ),
    (
        "--nonfinite",
        "trainer",
        "nonfinite",
        {
            "choices": ["stop", "skip"],
            "help": "on a NaN/inf loss: stop with an error naming the step, or skip that step",
        },
    ),
    (
        "--best-metric",
        "trainer",
        "best_metric",
        {"metavar": "KEY", "help": "metric that selects checkpoints/best (default: the task's)"},
    ),
    (
        "--best-mode",
        "trainer",
        "best_mode",
        {"choices": ["max", "min"], "help": "whether larger --best-metric is better"},
    ),
    ("--no-progress", "trainer", "progress", {"action": "store_const", "const": False, "help": "no progress bar"}),
]


def _add_task_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of every recipe's TaskConfig; a flag shared by tasks is added once."""
    common = {flag for flag, *_ in _FLAGS}
    actions: dict[str, argparse.Action] = {}
    owners: dict[str, list[str]] = {}
    for name, recipe in _recipes().items():
        cls = recipe.TaskConfig
        if cls is None:
            continue
        group = parser.add_argument_group(f"{name} options (YAML section task:)")
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            if flag in common:  # tests/engine/test_cli_train.py checks that none collides
                continue
            owners.setdefault(flag, []).append(name)
            if flag in actions:
                continue
            kind = hints[f.name]
            kwargs: dict[str, Any] = {
                "dest": f"task__{f.name}",
                "default": None,
                "help": f"{f.metadata.get('help', f.name)} (default {f.default!r})",
            }
            if kind is bool:
                kwargs.update(action="store_const", const=not f.default)
            else:
                kwargs["type"] = kind if kind in (int, float, str) else str
                kwargs["metavar"] = f.name.upper()
            actions[flag] = group.add_argument(flag, **kwargs)
    for flag, tasks in owners.items():
        if len(tasks) > 1:
            actions[flag].help = f"{actions[flag].help}; also for: {', '.join(tasks[1:])}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "task", choices=sorted(_recipes()), metavar="TASK", help=f"the task to train: {', '.join(sorted(_recipes()))}"
    )
    parser.add_argument(
        "--out", metavar="RUN_DIR", help="run directory to create (config.yaml, checkpoints/, tb/, scalars.jsonl)"
    )
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument(
        "--config", metavar="YAML", help="config file with sections model/data/optim/trainer/task; flags override it"
    )
    for flag, section, key, kwargs in _FLAGS:
        parser.add_argument(flag, dest=f"{section}__{key}", default=None, **kwargs)
    _add_task_flags(parser)


def _overrides(args: argparse.Namespace, task_cls: type | None) -> dict[str, dict[str, Any]]:
    task_fields = {f.name for f in dataclasses.fields(task_cls)} if task_cls else set()
    out: dict[str, dict[str, Any]] = {}
    for dest, value in vars(args).items():
        if value is None or "__" not in dest or dest.startswith("_"):
            continue
        section, key = dest.split("__", 1)
        if section == "task" and key not in task_fields:
            continue
        out.setdefault(section, {})[key] = list(value) if isinstance(value, tuple | list) else value
    return out


def _with_recipe_defaults(data: dict[str, Any], recipe: ModuleType) -> dict[str, Any]:
    """``data`` (a config file's sections) over the recipe's optional ``DEFAULTS``."""
    defaults: dict[str, dict[str, Any]] = getattr(recipe, "DEFAULTS", {})
    return {**data, **{section: {**values, **(data.get(section) or {})} for section, values in defaults.items()}}


def config_from_args(args: argparse.Namespace, recipe: ModuleType) -> tuple[Any, bool]:
    """(RunConfig, resume?) from the flags, --config and, with --resume, the run's config.yaml."""
    resume = args.resume is not None
    if resume:
        run_dir = Path(args.resume)
        if args.out is not None and Path(args.out) != run_dir:
            raise ValueError(f"--out {args.out} differs from --resume {args.resume}; give only --resume")
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir / 'config.yaml'}: not a run directory to resume")
        data = read_yaml(run_dir / "config.yaml")
        if data.get("task_name") != args.task:
            raise ValueError(f"{run_dir / 'config.yaml'}: the run trains {data.get('task_name')!r}, not {args.task!r}")
        data = {k: v for k, v in data.items() if k not in ("task_name", "out")}
        out, where = str(run_dir), str(run_dir / "config.yaml")
    else:
        if args.out is None:
            raise ValueError("--out RUN_DIR is required (or --resume RUN_DIR)")
        out = args.out
        data = _with_recipe_defaults(read_yaml(args.config) if args.config else {}, recipe)
        where = args.config or "command line"
        ckpts = Path(out) / "checkpoints"
        if ckpts.is_dir() and any(ckpts.iterdir()):
            raise ValueError(f"{out} already holds a run; use --resume {out} or another --out")
    overrides = _overrides(args, recipe.TaskConfig)
    model = overrides.get("model", {}).get("name") or (data.get("model") or {}).get("name")
    if not model:
        overrides.setdefault("model", {})["name"] = recipe.DEFAULT_MODEL
    elif model not in recipe.MODELS:
        raise ValueError(f"--model {model!r} is not a {args.task} model; choose from {', '.join(recipe.MODELS)}")
    cfg = build_run_config(
        task_name=args.task,
        out=out,
        file_data=data,
        overrides=overrides,
        task_config_class=recipe.TaskConfig,
        where=where,
    )
    return cfg, resume


def run(args: argparse.Namespace) -> int:
    from seesall.engine.run import train
    from seesall.engine.trainer import NonFiniteLossError

    recipe = _recipes()[args.task]
    cfg, resume = config_from_args(args, recipe)
    try:
        result = train(cfg, recipe, resume=resume)
    except NonFiniteLossError as e:
        print(f"seesall train: error: {e}", file=sys.stderr)
        return 1
    if result["rank"] != 0:
        return 0
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items())
    why = f" ({result['stop_reason']})" if result["stop_reason"] else ""
    print(f"trained {result['step']} steps{why}; {metrics or 'no evaluation'}; run in {cfg.out}")
    return 0
