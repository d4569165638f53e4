"""A short step-budgeted training loop for the embedding recipes.

``train_steps(model, loss_fn, batches, steps=...)``: ``loss_fn(model, batch) ->
dict[str, Tensor]`` (summed into the objective), ``batches`` an iterator of
batches. It is the same (model, loss dict, data) split the shared trainer in
``seesall.engine`` takes, so the recipes move there unchanged.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from seesall.engine.schedule import lr_factor
from seesall.tasks.embedding.criterion import ContrastiveCriterion, TripletCriterion
from seesall.tasks.embedding.data import ImageSet
from seesall.tasks.embedding.sampling import class_index, pk_indices

LossFn = Callable[[nn.Module, Any], dict[str, Tensor]]


def train_steps(
    model: nn.Module, loss_fn: LossFn, batches: Iterator[Any], *, steps: int,
    lr: float = 1e-3, weight_decay: float = 1e-4, warmup_steps: int = 0, log_every: int = 0,
) -> dict[str, float]:
    """AdamW for ``steps`` steps: linear warm-up over ``warmup_steps``, then cosine decay
    (the engine's :func:`~seesall.engine.schedule.lr_factor`); returns final losses and
    wall-clock."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, functools.partial(
        lr_factor, schedule="cosine", max_steps=max(steps, 1), warmup_steps=warmup_steps))
    model.train()
    start, last = time.perf_counter(), {}
    for step in range(steps):
        losses = loss_fn(model, next(batches))
        total = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        sched.step()
        last = {k: float(v.detach()) for k, v in losses.items()}
        if log_every and (step + 1) % log_every == 0:
            print(f"  step {step + 1}/{steps} " + " ".join(f"{k}={v:.4f}" for k, v in last.items()))
    return {**last, "seconds": time.perf_counter() - start}


def random_batches(data: ImageSet, batch_size: int, seed: int = 0) -> Iterator[ImageSet]:
    """Endless uniformly random batches (for SimCLR and classification)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        yield data.subset(torch.randint(0, len(data), (batch_size,), generator=g))


def class_balanced_batches(data: ImageSet, *, classes_per_batch: int, per_class: int,
                           seed: int = 0) -> Iterator[ImageSet]:
    """Endless P×K batches: P distinct random classes, K images of each (metric learning).

    See :func:`~seesall.tasks.embedding.sampling.pk_indices`.
    """
    g = torch.Generator().manual_seed(seed)
    by_class = class_index(data.labels)
    while True:
        yield data.subset(pk_indices(by_class, classes_per_batch=classes_per_batch,
                                     per_class=per_class, generator=g))


def classification_loss(augment: Callable[[Tensor], Tensor]) -> LossFn:
    """Cross-entropy of a classifier on augmented images: ``{"loss_ce"}``.

    ``augment``: uint8 Tensor[B, C, H, W] -> float Tensor[B, C, s, s] (e.g. a BatchAugment).
    """
    def fn(model: nn.Module, batch: ImageSet) -> dict[str, Tensor]:
        logits = model(augment(batch.images))
        return {"loss_ce": nn.functional.cross_entropy(logits, batch.labels)}
    return fn


def metric_loss(criterion: TripletCriterion | ContrastiveCriterion,
                augment: Callable[[Tensor], Tensor]) -> LossFn:
    """A mined metric loss on the embeddings of augmented images."""
    def fn(model: nn.Module, batch: ImageSet) -> dict[str, Tensor]:
        return criterion(model(augment(batch.images)), batch.labels)
    return fn
