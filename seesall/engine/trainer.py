"""The training loop: one short step plus hooks (detectron2's ``TrainerBase`` shape).

The loop knows nothing about tasks: a batch goes through ``inputs(batch)`` into the
model, the raw outputs and the batch into ``loss_fn``, which returns a dict of
scalar tensors with a ``"total"``. Everything else (LR schedule, evaluation,
checkpoints, logs, time budget) is a :class:`Hook`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from seesall.engine.checkpoint import fault_delay
from seesall.engine.data import move_to
from seesall.engine.distributed import DistInfo, all_reduce_mean


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite (and the trainer is set to stop)."""


class Hook:
    """Called around the loop; every process runs every hook (writers check ``is_main``)."""

    def before_train(self, trainer: Trainer) -> None: ...

    def before_step(self, trainer: Trainer) -> None: ...

    def after_step(self, trainer: Trainer) -> None: ...

    def after_train(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Trainer:
    """Runs optimiser steps until ``max_steps`` or a hook sets ``should_stop``.

    Attributes read by hooks: ``step`` (completed optimiser steps), ``losses``
    (the last step's losses, averaged over processes), ``metrics`` (the last
    evaluation, set by an evaluation hook), ``skipped`` (non-finite steps skipped),
    ``should_stop``/``stop_reason``.
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        loss_fn: Callable[[Any, Any], dict[str, Tensor]],
        inputs: Callable[[Any], tuple[Any, ...]],
        optimizer: torch.optim.Optimizer,
        data: Iterator[Any],
        dist: DistInfo,
        max_steps: int,
        grad_accum: int = 1,
        clip_grad_norm: float | None = None,
        autocast_dtype: torch.dtype | None = None,
        scaler: torch.amp.GradScaler | None = None,
        nonfinite: str = "stop",
        hooks: Sequence[Hook] = (),
    ) -> None:
        if nonfinite not in ("stop", "skip"):
            raise ValueError(f"nonfinite must be 'stop' or 'skip', got {nonfinite!r}")
        self.model, self.loss_fn, self.inputs = model, loss_fn, inputs
        self.optimizer, self.data, self.dist = optimizer, data, dist
        self.max_steps, self.grad_accum, self.clip = max_steps, grad_accum, clip_grad_norm
        self.autocast_dtype, self.scaler, self.nonfinite = autocast_dtype, scaler, nonfinite
        self.hooks = list(hooks)
        self.step, self.skipped = 0, 0
        self.losses: dict[str, float] = {}
        self.metrics: dict[str, float] = {}
        self.metrics_step = -1
        self.should_stop, self.stop_reason = False, ""
        self.start_time = time.monotonic()

    @property
    def is_final_step(self) -> bool:
        """True in ``after_step`` of the last step (budget reached or a stop requested)."""
        return self.step >= self.max_steps or self.should_stop

    def train(self) -> None:
        """The loop."""
        self.start_time = time.monotonic()
        self.model.train()
        for h in self.hooks:
            h.before_train(self)
        try:
            while self.step < self.max_steps and not self.should_stop:
                for h in self.hooks:
                    h.before_step(self)
                self.run_step()
                for h in self.hooks:
                    h.after_step(self)
        finally:
            for h in self.hooks:
                h.after_train(self)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.dist.device.type, dtype=self.autocast_dtype)

    def _forward_backward(self, batch: Any, sync: bool) -> dict[str, Tensor]:
        no_sync = isinstance(self.model, DistributedDataParallel) and not sync
        with self.model.no_sync() if no_sync else contextlib.nullcontext():
            with self._autocast():
                losses = self.loss_fn(self.model(*self.inputs(batch)), batch)
            if "total" not in losses:
                raise KeyError(f"the loss function must return a 'total', got {sorted(losses)}")
            total = losses["total"] / self.grad_accum
            (self.scaler.scale(total) if self.scaler else total).backward()
        return losses

    def run_step(self) -> None:
        """One optimiser step over ``grad_accum`` micro-batches."""
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, Tensor] = {}
        for i in range(self.grad_accum):
            batch = move_to(next(self.data), self.dist.device)
            losses = self._forward_backward(batch, sync=i == self.grad_accum - 1)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.detach().float() / self.grad_accum
        names = sorted(sums)
        values = all_reduce_mean(torch.stack([sums[k] for k in names])).tolist()
        self.losses = dict(zip(names, values, strict=True))
        fault_delay("step", self.step + 1)
        if not all(math.isfinite(v) for v in values):
            self._on_nonfinite()
        else:
            self._optimizer_step()
        self.step += 1

    def _optimizer_step(self) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.clip is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _on_nonfinite(self) -> None:
        bad = ", ".join(f"{k}={v}" for k, v in self.losses.items())
        if self.nonfinite == "stop":
            raise NonFiniteLossError(
                f"non-finite loss at step {self.step + 1} ({bad}); stopped "
                "(lower the learning rate, or pass --nonfinite skip to skip such steps)"
            )
        self.skipped += 1
        self.optimizer.zero_grad(set_to_none=True)

    # ---- resume state ------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything but the model and RNG needed to continue exactly (JSON + tensors)."""
        return {
            "step": self.step,
            "skipped": self.skipped,
            "metrics": self.metrics,
            "metrics_step": self.metrics_step,
            "data": self.data.state_dict() if hasattr(self.data, "state_dict") else {},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "hooks": {type(h).__name__: h.state_dict() for h in self.hooks},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.skipped = int(state["step"]), int(state["skipped"])
        self.metrics, self.metrics_step = dict(state["metrics"]), int(state["metrics_step"])
        if hasattr(self.data, "load_state_dict"):
            self.data.load_state_dict(state["data"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for h in self.hooks:
            h.load_state_dict(state["hooks"].get(type(h).__name__, {}))
