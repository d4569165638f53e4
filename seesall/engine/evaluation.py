"""Evaluation plumbing: the evaluator contract and the loop that runs it.

An evaluator (STYLE rule 9) has ``reset()``, ``update(predictions, batch)`` and
``compute() -> dict[str, float]``, plus ``state()`` / ``merge(states)`` so that
under DDP every process's partial results are gathered (``all_gather_object``)
and merged before ``compute``: each process then returns the metrics of the whole
dataset, each sample counted once (see :class:`~seesall.engine.data.ShardedEvalSampler`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
from torch import nn

from seesall.engine.data import move_to
from seesall.engine.distributed import all_gather_object, world_size


class Evaluator(Protocol):
    """What ``evaluate`` needs from a task's metric."""

    def reset(self) -> None:
        """Forget everything seen so far."""

    def update(self, predictions: Any, batch: Any) -> None:
        """Accumulate one batch of post-processed predictions against the batch's targets."""

    def compute(self) -> dict[str, float]:
        """The metrics over everything accumulated (after ``merge`` under DDP)."""

    def state(self) -> Any:
        """This process's partial results (picklable)."""

    def merge(self, states: list[Any]) -> None:
        """Replace the partial results by the union of every process's ``state()``."""


def evaluate(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    inputs: Callable[[Any], tuple[Any, ...]],
    postprocess: Callable[[Any, Any], Any],
    evaluator: Evaluator,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Run ``model`` over ``batches`` in eval mode and return the evaluator's metrics.

    Every process calls this on its share of the data; results are gathered across
    processes when running distributed.
    """
    was_training = model.training
    model.eval()
    evaluator.reset()
    amp = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else contextlib.nullcontext()
    try:
        with torch.no_grad(), amp:
            for batch in batches:
                batch = move_to(batch, device)
                outputs = model(*inputs(batch))
                evaluator.update(postprocess(outputs, batch), batch)
    finally:
        model.train(was_training)
    if world_size() > 1:
        evaluator.merge(all_gather_object(evaluator.state()))
    return {k: float(v) for k, v in evaluator.compute().items()}
