"""Panoptic segmentation's recipe for the engine (``seesall train panoptic``).

Panoptic FPN trains on world scenes: the objects (with masks) supervise the Mask R-CNN
branch, the semantic map (stuff classes, then things) the semantic branch. Validation
merges both branches into panoptic maps and scores them with PQ/SQ/RQ against the
scenes' ground-truth panoptic maps (:func:`scene_to_panoptic`). As in the instance
recipe, ``PanopticModule`` passes the targets to the model only in training mode.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.structures import Objects, SceneBatch, collate
from seesall.tasks.panoptic.merge import MergeConfig, scene_to_panoptic
from seesall.tasks.panoptic.metrics import PanopticQuality, categories_from_world
from seesall.tasks.panoptic.model import (
    PANOPTIC_MODELS,
    PanopticFPNOutput,
    PanopticPrediction,
    PanopticSegmenter,
)
from seesall.tasks.semantic.recipe import batch_targets
from seesall.world import SEMANTIC_CLASSES, STUFF_CLASSES, THING_CLASSES, WorldConfig

NAME = "panoptic"
DEFAULT_MODEL = "panoptic_fpn_small"


@dataclass(frozen=True)
class TaskConfig:
    """Options of the panoptic task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world scene seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world scene"})
    semantic_weight: float = field(default=0.5, metadata={
        "help": "weight of the semantic branch's cross-entropy (lambda_s)"})
    thing_score: float = field(default=0.5, metadata={
        "help": "panoptic merge: smallest score of an instance that is placed"})
    overlap_threshold: float = field(default=0.5, metadata={
        "help": "panoptic merge: drop an instance when more than this fraction is taken"})
    stuff_min_area: int = field(default=16, metadata={
        "help": "panoptic merge: stuff regions with fewer free pixels stay void"})


class PanopticModule(nn.Module):
    """An ``nn.Module`` view of a :class:`PanopticSegmenter` for the engine."""

    def __init__(self, segmenter: PanopticSegmenter) -> None:
        super().__init__()
        self.model = segmenter.model
        self.criterion, self.post = segmenter.criterion, segmenter.postprocess

    def forward(self, images: Tensor, targets: Sequence[Objects],
                image_sizes: Sequence[tuple[int, int]]) -> PanopticFPNOutput:
        """images: Tensor[B, 3, H, W] uint8 padded; targets used only in training mode."""
        return self.model(images, list(targets) if self.training else None, image_sizes)


def _factory(name: str) -> Any:
    def build(*, num_things: int, num_stuff: int, **kw: Any) -> PanopticModule:
        return PanopticModule(PANOPTIC_MODELS[name](num_things=num_things, num_stuff=num_stuff,
                                                    **kw))
    build.__doc__ = PANOPTIC_MODELS[name].__doc__
    return build


MODELS: dict[str, Any] = {name: _factory(name) for name in PANOPTIC_MODELS}


def build_model(name: str, cfg: RunConfig | None = None) -> PanopticModule:
    """Model ``name`` over the world's thing and stuff classes, merged as ``cfg`` says."""
    factory = pick_model(NAME, MODELS, name)
    t = task_options(cfg, TaskConfig)
    if not 0.0 <= t.overlap_threshold <= 1.0:
        raise ValueError(f"task.overlap_threshold must be in [0, 1], got {t.overlap_threshold}")
    merge = MergeConfig(score_threshold=t.thing_score, overlap_threshold=t.overlap_threshold,
                        min_stuff_area=t.stuff_min_area)
    return factory(num_things=len(THING_CLASSES), num_stuff=len(STUFF_CLASSES),
                   semantic_weight=t.semantic_weight, merge=merge)


def inputs(batch: SceneBatch) -> tuple[Tensor, list[Objects], list[tuple[int, int]]]:
    return batch.images, [s.objects for s in batch.scenes], batch.image_sizes


def _loss(outputs: PanopticFPNOutput, batch: SceneBatch, *, module: PanopticModule
          ) -> dict[str, Tensor]:
    dev = batch.images.device
    losses = module.criterion(outputs, [s.objects.to(dev) for s in batch.scenes],
                              batch_targets(batch, dev))
    losses["total"] = sum(losses.values())
    return losses


def _postprocess(outputs: PanopticFPNOutput, batch: SceneBatch, *, module: PanopticModule
                 ) -> list[PanopticPrediction]:
    return module.post(outputs, batch.image_sizes)


class PanopticEvaluator:
    """PQ/SQ/RQ (all, ``_th`` things, ``_st`` stuff) against the scenes' panoptic maps."""

    def __init__(self, num_stuff: int, num_things: int) -> None:
        self.num_stuff = num_stuff
        self.pq = PanopticQuality(categories_from_world(num_stuff, num_things))

    def reset(self) -> None:
        self.pq.reset()

    def update(self, predictions: Sequence[PanopticPrediction], batch: SceneBatch) -> None:
        for pred, scene in zip(predictions, batch.scenes, strict=True):
            gt, gt_segments = scene_to_panoptic(scene, self.num_stuff)
            self.pq.update(gt, gt_segments, pred.panoptic, pred.segments)

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.pq.compute().items() if k != "per_class"}

    def state(self) -> dict[int, list[float]]:
        return {c: list(v) for c, v in self.pq.stats.items()}

    def merge(self, states: list[dict[int, list[float]]]) -> None:
        self.pq.reset()
        for st in states:
            for c, v in st.items():
                self.pq.stats[c] = [a + b for a, b in zip(self.pq.stats[c], v, strict=True)]


def build(cfg: RunConfig) -> TaskParts:
    """Model, joint losses, world data and PQ evaluation for one run."""
    t, d = task_options(cfg, TaskConfig), cfg.data
    world = WorldConfig(size=(d.image_size, d.image_size), num_objects=(1, max(t.max_objects, 1)))
    train_set, val_set = world_splits(cfg, "scene", world, t.world_seed)
    module = build_model(cfg.model.name or DEFAULT_MODEL, cfg)
    return TaskParts(
        model=module,
        loss=functools.partial(_loss, module=module),
        inputs=inputs,
        postprocess=functools.partial(_postprocess, module=module),
        make_evaluator=functools.partial(PanopticEvaluator, len(STUFF_CLASSES),
                                         len(THING_CLASSES)),
        train_set=train_set,
        val_set=val_set,
        collate=functools.partial(collate, size_divisible=32),
        class_names=list(SEMANTIC_CLASSES),
        best_metric="PQ",
        best_mode="max",
    )


__all__ = ["MODELS", "NAME", "TaskConfig", "build", "build_model"]
