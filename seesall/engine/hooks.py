"""The trainer's hooks: LR schedule, time budget, calibration, evaluation, checkpoints, logs.

Order matters and is the order of the list given to the trainer: the time budget
decides first whether this is the final step, then the task's calibration, evaluation, checkpoint
(which reads the new metrics to decide "best") and finally the log line.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from seesall.engine.distributed import all_reduce_mean
from seesall.engine.trainer import Hook, Trainer
from seesall.io.atomic import write_text


class LRScheduleHook(Hook):
    """Before each step: ``lr = initial_lr * factor(step)`` for every parameter group."""

    def __init__(self, factor: Callable[[int], float]) -> None:
        self.factor = factor

    def before_step(self, trainer: Trainer) -> None:
        f = self.factor(trainer.step)
        for group in trainer.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * f


class TimeBudgetHook(Hook):
    """Stop after ``minutes`` of training (this session's wall-clock, agreed by all ranks)."""

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60.0

    def after_step(self, trainer: Trainer) -> None:
        over = float(time.monotonic() - trainer.start_time >= self.seconds)
        if all_reduce_mean(torch.tensor([over], device=trainer.dist.device)).item() > 0:
            trainer.should_stop = True
            trainer.stop_reason = f"time budget of {self.seconds / 60:g} min reached"


class CalibrateHook(Hook):
    """On the evaluation schedule (every ``period`` steps, 0: only at the end, and at the final
    step), before the evaluation: ``fn(model)`` in eval mode, then back to training mode."""

    def __init__(self, period: int, model: torch.nn.Module, fn: Callable[[torch.nn.Module], None]) -> None:
        self.period, self.model, self.fn = period, model, fn

    def after_step(self, trainer: Trainer) -> None:
        due = self.period > 0 and trainer.step % self.period == 0
        if due or trainer.is_final_step:
            was_training = self.model.training
            self.model.eval()
            with torch.no_grad():
                self.fn(self.model)
            self.model.train(was_training)


class EvalHook(Hook):
    """Every ``period`` steps (0: only at the end) and at the final step: run ``fn``."""

    def __init__(self, period: int, fn: Callable[[], dict[str, float]]) -> None:
        self.period, self.fn = period, fn

    def after_step(self, trainer: Trainer) -> None:
        due = self.period > 0 and trainer.step % self.period == 0
        if due or trainer.is_final_step:
            trainer.metrics = self.fn()
            trainer.metrics_step = trainer.step


class CheckpointHook(Hook):
    """Every ``period`` steps and at the final step: save ``last``; ``best`` when the
    metric ``best_metric`` improved in an evaluation of this step."""

    def __init__(
        self,
        period: int,
        save: Callable[[Trainer, tuple[str, ...]], None],
        *,
        best_metric: str,
        best_mode: str,
    ) -> None:
        self.period, self.save = period, save
        self.best_metric, self.best_mode = best_metric, best_mode
        self.best_value: float | None = None

    def _improved(self, trainer: Trainer) -> bool:
        if trainer.metrics_step != trainer.step or self.best_metric not in trainer.metrics:
            return False
        value = trainer.metrics[self.best_metric]
        if self.best_value is None or math.isnan(self.best_value):
            better = True
        else:
            better = value > self.best_value if self.best_mode == "max" else value < self.best_value
        if better:
            self.best_value = value
        return better

    def after_step(self, trainer: Trainer) -> None:
        due = self.period > 0 and trainer.step % self.period == 0
        improved = self._improved(trainer)
        if due or trainer.is_final_step or improved:
            self.save(trainer, ("last", "best") if improved else ("last",))

    def state_dict(self) -> dict[str, Any]:
        return {"best_value": self.best_value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_value = state.get("best_value")


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


class LogHook(Hook):
    """Rank 0: tqdm bar (loss, speed, ETA), TensorBoard events and ``scalars.jsonl``.

    One JSON object per logged step: ``step``, ``loss`` (the total), every loss term,
    ``lr``, ``steps_per_s``, ``skipped``, and the metrics of an evaluation at this step
    (``val/<name>``). Non-finite values are written as null.
    """

    def __init__(self, run_dir: str | Path, *, period: int, progress: bool, enabled: bool) -> None:
        self.run_dir, self.period = Path(run_dir), period
        self.progress, self.enabled = progress, enabled
        self.bar: tqdm | None = None
        self.writer: Any = None
        self.jsonl: Any = None
        self._t0, self._s0 = 0.0, 0

    def before_train(self, trainer: Trainer) -> None:
        if not self.enabled:
            return
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "scalars.jsonl"
        if path.exists():  # resumed: drop what was logged after the checkpoint
            kept = [ln for ln in path.read_text().splitlines() if _step_of(ln) <= trainer.step]
            write_text(path, "".join(ln + "\n" for ln in kept))
        self.jsonl = path.open("a", encoding="utf-8")
        self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=trainer.step + 1)
        self.bar = tqdm(
            total=trainer.max_steps,
            initial=trainer.step,
            disable=not self.progress,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
        self._t0, self._s0 = time.monotonic(), trainer.step

    def after_step(self, trainer: Trainer) -> None:
        if not self.enabled:
            return
        new_metrics = trainer.metrics_step == trainer.step
        if self.bar is not None:
            self.bar.update(1)
        if trainer.step % self.period and not new_metrics and not trainer.is_final_step:
            return
        record = self._record(trainer, new_metrics)
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        for key, value in record.items():
            if key != "step" and value is not None:
                self.writer.add_scalar(key if "/" in key else f"train/{key}", value, trainer.step)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{trainer.losses.get('total', float('nan')):.4f}")

    def _record(self, trainer: Trainer, new_metrics: bool) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        record: dict[str, Any] = {"step": trainer.step}
        record["loss"] = _finite_or_none(trainer.losses.get("total", float("nan")))
        for k, v in trainer.losses.items():
            if k != "total":
                record[k] = _finite_or_none(v)
        record["lr"] = trainer.optimizer.param_groups[0]["lr"]
        record["steps_per_s"] = (trainer.step - self._s0) / elapsed
        record["skipped"] = trainer.skipped
        if new_metrics:
            record.update({f"val/{k}": _finite_or_none(v) for k, v in trainer.metrics.items()})
        return record

    def after_train(self, trainer: Trainer) -> None:
        for closeable in (self.bar, self.writer, self.jsonl):
            if closeable is not None:
                closeable.close()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62
