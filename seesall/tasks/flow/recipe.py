"""Optical flow's recipe for the engine (``seesall train flow``): FlowNets on world pairs."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.tasks.flow.data import FlowBatch, stack_pairs
from seesall.tasks.flow.loss import FLOWNET_WEIGHTS, multiscale_epe_loss
from seesall.tasks.flow.metrics import FlowMetrics
from seesall.tasks.flow.models import MODELS as FLOW_MODELS
from seesall.tasks.flow.predict import normalize_images, postprocess
from seesall.world import WorldConfig

NAME = "flow"
MODELS: dict[str, Any] = FLOW_MODELS
DEFAULT_MODEL = "flownet_c_small"


@dataclass(frozen=True)
class TaskConfig:
    """Options of the flow task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world pair seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world pair"})


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    return pick_model(NAME, MODELS, name)()


def _inputs(batch: FlowBatch) -> tuple[Tensor, Tensor]:
    return normalize_images(batch.image1), normalize_images(batch.image2)


def _loss(outputs: list[Tensor], batch: FlowBatch, *, div_flow: float,
          weights: tuple[float, ...] = FLOWNET_WEIGHTS) -> dict[str, Tensor]:
    losses = multiscale_epe_loss(outputs, batch.flow, batch.valid, div_flow=div_flow, weights=weights)
    losses["total"] = losses.pop("loss_flow")
    return losses


def _postprocess(outputs: list[Tensor], batch: FlowBatch, *, div_flow: float) -> Tensor:
    return postprocess(outputs, div_flow=div_flow, size=tuple(batch.flow.shape[-2:])).cpu()


class FlowEvaluator:
    """The engine's evaluator around :class:`FlowMetrics` (sums and counts merge exactly)."""

    def __init__(self) -> None:
        self.metric = FlowMetrics()

    def reset(self) -> None:
        self.metric.reset()

    def update(self, predictions: Tensor, batch: FlowBatch) -> None:
        self.metric.update(predictions, batch.flow.cpu(), batch.valid.cpu())

    def compute(self) -> dict[str, float]:
        return self.metric.compute()

    def state(self) -> tuple[dict, dict]:
        return self.metric.state()

    def merge(self, states: list[tuple[dict, dict]]) -> None:
        self.metric.merge(states)


def build(cfg: RunConfig) -> TaskParts:
    """FlowNet, multi-scale EPE, world pairs of ``data.image_size`` (a multiple of 64), EPE."""
    t, d = task_options(cfg, TaskConfig), cfg.data
    if d.image_size % 64:
        raise ValueError(f"data.image_size must be a multiple of 64 for FlowNets, got {d.image_size}")
    world = WorldConfig(size=(d.image_size, d.image_size), num_objects=(1, max(t.max_objects, 1)))
    train_set, val_set = world_splits(cfg, "pair", world, t.world_seed)
    model = build_model(cfg.model.name or DEFAULT_MODEL, cfg)
    div = float(model.div_flow)
    return TaskParts(
        model=model,
        loss=functools.partial(_loss, div_flow=div,
                               weights=tuple(getattr(model, "level_weights", FLOWNET_WEIGHTS))),
        inputs=_inputs,
        postprocess=functools.partial(_postprocess, div_flow=div),
        make_evaluator=FlowEvaluator,
        train_set=train_set,
        val_set=val_set,
        collate=stack_pairs,
        best_metric="EPE",
        best_mode="min",
    )

