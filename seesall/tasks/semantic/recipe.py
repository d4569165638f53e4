"""Semantic segmentation's recipe for the engine (``seesall train semantic``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.nn.backbones import normalize_image
from seesall.structures import IGNORE_INDEX, SceneBatch, collate
from seesall.tasks.semantic.losses import SemanticLossConfig, semantic_loss
from seesall.tasks.semantic.metrics import SemanticMetric
from seesall.tasks.semantic.models import SEMANTIC_MODELS
from seesall.world import SEMANTIC_CLASSES, WorldConfig

NAME = "semantic"
MODELS: dict[str, Any] = SEMANTIC_MODELS
DEFAULT_MODEL = "unet_small"


@dataclass(frozen=True)
class TaskConfig:
    """Options of the semantic task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world scene seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world scene"})
    up_mode: str = field(default="transposed",
                         metadata={"help": "U-Net upsampling: nearest, maxunpool, transposed"})
    skips: bool = field(default=True, metadata={"help": "U-Net long skip connections"})
    ce: float = field(default=1.0, metadata={"help": "cross-entropy weight"})
    lovasz: float = field(default=0.0, metadata={"help": "Lovász-softmax weight"})
    dice: float = field(default=0.0, metadata={"help": "Dice weight"})
    edge: float = field(default=0.0, metadata={"help": "edge-head BCE weight (adds the head)"})


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    """Model ``name`` over the world's semantic classes."""
    factory = pick_model(NAME, MODELS, name)
    t = task_options(cfg, TaskConfig)
    kw: dict[str, Any] = {"num_classes": len(SEMANTIC_CLASSES), "edge_head": t.edge > 0}
    if name.startswith("unet"):
        kw.update(up_mode=t.up_mode, skips=t.skips)
    return factory(**kw)


def batch_targets(batch: SceneBatch, device: torch.device) -> Tensor:
    """Tensor[B, H, W] int64 semantic maps padded with IGNORE_INDEX to the batch size."""
    h, w = batch.images.shape[-2:]
    maps = []
    for s in batch.scenes:
        if s.semantic is None:
            raise ValueError(f"scene {s.file_name or s.image_id} has no semantic map")
        m = s.semantic.as_subclass(Tensor).long()
        maps.append(F.pad(m, (0, w - m.shape[1], 0, h - m.shape[0]), value=IGNORE_INDEX))
    return torch.stack(maps).to(device)


def _inputs(batch: SceneBatch) -> tuple[Tensor]:
    return (normalize_image(batch.images),)


def _loss(outputs: dict[str, Tensor], batch: SceneBatch, *, cfg: SemanticLossConfig
          ) -> dict[str, Tensor]:
    losses = semantic_loss(outputs, batch_targets(batch, outputs["logits"].device), cfg)
    losses["total"] = sum(losses.values())
    return losses


def postprocess(outputs: dict[str, Tensor], batch: SceneBatch) -> list[Tensor]:
    """Per image Tensor[H_i, W_i] int64 arg-max classes (cropped to the unpadded size)."""
    pred = outputs["logits"].argmax(dim=1).cpu()
    return [p[:h, :w] for p, (h, w) in zip(pred, batch.image_sizes, strict=True)]


class SemanticEvaluator:
    """The engine's evaluator around :class:`SemanticMetric`."""

    def __init__(self, num_classes: int) -> None:
        self.metric = SemanticMetric(num_classes)

    def reset(self) -> None:
        self.metric.reset()

    def update(self, predictions: list[Tensor], batch: SceneBatch) -> None:
        for p, s in zip(predictions, batch.scenes, strict=True):
            self.metric.update(p, s.semantic.as_subclass(Tensor))

    def compute(self) -> dict[str, float]:
        out = self.metric.compute()
        return {k: v for k, v in out.items() if isinstance(v, float)}

    def state(self) -> tuple[Tensor, Any, Any]:
        return self.metric.confusion, self.metric.b_inter, self.metric.b_union

    def merge(self, states: list[tuple[Tensor, Any, Any]]) -> None:
        self.metric.reset()
        for c, bi, bu in states:
            self.metric.confusion += c
            self.metric.b_inter += bi
            self.metric.b_union += bu


def build(cfg: RunConfig) -> TaskParts:
    """Model, losses, world data and mIoU evaluation for one run."""
    t, d = task_options(cfg, TaskConfig), cfg.data
    world = WorldConfig(size=(d.image_size, d.image_size), num_objects=(1, max(t.max_objects, 1)))
    train_set, val_set = world_splits(cfg, "scene", world, t.world_seed)
    loss_cfg = SemanticLossConfig(ce=t.ce, lovasz=t.lovasz, dice=t.dice, edge=t.edge)
    return TaskParts(
        model=build_model(cfg.model.name or DEFAULT_MODEL, cfg),
        loss=functools.partial(_loss, cfg=loss_cfg),
        inputs=_inputs,
        postprocess=postprocess,
        make_evaluator=functools.partial(SemanticEvaluator, len(SEMANTIC_CLASSES)),
        train_set=train_set,
        val_set=val_set,
        collate=collate,
        class_names=list(SEMANTIC_CLASSES),
        best_metric="mIoU",
        best_mode="max",
    )
