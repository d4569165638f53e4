"""A tiny task (random features -> class) satisfying the recipe protocol, for engine tests.

Run as a script it trains through ``seesall.engine.run.train``; used by the crash,
resume and torchrun tests in subprocesses:
``python tiny_task.py OUT [--resume] [key=value ...]`` with keys like
``trainer.max_steps=20`` or ``task.dropout=0.0``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.engine.config import RunConfig, build_run_config
from seesall.engine.recipe import TaskParts

NAME = "tiny"
DEFAULT_MODEL = "mlp"


@dataclass(frozen=True)
class TaskConfig:
    dropout: float = field(default=0.2, metadata={"help": "dropout (makes resume depend on RNG)"})
    nan_at_call: int = field(default=0, metadata={"help": "loss call (1-based) that returns NaN"})
    dim: int = field(default=8, metadata={"help": "feature size"})


class Features(Dataset):
    """Item i: a fixed random vector and its class (deterministic per index)."""

    def __init__(self, n: int, dim: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim, generator=g)
        self.y = (self.x[:, 0] > 0).long() + (self.x[:, 1] > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.x[i], self.y[i]


class MLP(nn.Module):
    def __init__(self, *, dim: int, dropout: float) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(16, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


def mlp(*, dim: int = 8, dropout: float = 0.2) -> MLP:
    return MLP(dim=dim, dropout=dropout)


MODELS = {"mlp": mlp}


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    t = cfg.task if cfg is not None else TaskConfig()
    return MODELS[name](dim=t.dim, dropout=t.dropout)


class Accuracy:
    def reset(self) -> None:
        self.hit, self.n = 0, 0

    def update(self, pred: Tensor, batch: Any) -> None:
        self.hit += int((pred == batch[1]).sum())
        self.n += len(pred)

    def compute(self) -> dict[str, float]:
        return {"acc": self.hit / max(self.n, 1), "count": float(self.n)}

    def state(self) -> tuple[int, int]:
        return self.hit, self.n

    def merge(self, states: list[tuple[int, int]]) -> None:
        self.hit, self.n = sum(s[0] for s in states), sum(s[1] for s in states)


def build(cfg: RunConfig) -> TaskParts:
    t = cfg.task
    calls = [0]

    def loss(logits: Tensor, batch: Any) -> dict[str, Tensor]:
        calls[0] += 1
        ce = F.cross_entropy(logits, batch[1])
        if calls[0] == t.nan_at_call:
            ce = ce * float("nan")
        return {"total": ce, "ce": ce}

    return TaskParts(
        model=build_model(cfg.model.name or DEFAULT_MODEL, cfg),
        loss=loss,
        inputs=lambda b: (b[0],),
        postprocess=lambda out, b: out.argmax(1),
        make_evaluator=Accuracy,
        train_set=Features(cfg.data.train_size, t.dim, 0),
        val_set=Features(cfg.data.val_size, t.dim, 1) if cfg.data.val_size else None,
        collate=torch.utils.data.default_collate,
        class_names=["a", "b", "c"],
        best_metric="acc",
    )


DEFAULTS = {
    "data": {"train_size": 64, "val_size": 32, "batch_size": 8},
    "trainer": {
        "max_steps": 20,
        "log_every": 1,
        "checkpoint_every": 5,
        "progress": False,
        "threads": 1,
        "device": "cpu",
    },
    "optim": {"lr": 0.05, "name": "sgd", "warmup_steps": 2},
}


def make_config(out: str, overrides: list[str] = ()) -> RunConfig:
    import yaml

    sections: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULTS.items()}
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = yaml.safe_load(value)
    return build_run_config(
        task_name=NAME, out=out, file_data=sections, overrides={}, task_config_class=TaskConfig, where="tiny_task"
    )


TINY = Path(__file__).resolve()
REPO = TINY.parents[2]


def losses(run_dir: Path) -> list[tuple[int, float | None]]:
    """(step, loss) of every line of a run's scalars.jsonl."""
    lines = (Path(run_dir) / "scalars.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines)]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SEESALL_FAULT_DELAY"}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    env.update(extra)
    return env


if __name__ == "__main__":
    from seesall.engine.run import train

    args = sys.argv[1:]
    resume = "--resume" in args
    args = [a for a in args if a != "--resume"]
    result = train(make_config(args[0], args[1:]), sys.modules[__name__], resume=resume)
    print(result["step"], flush=True)
