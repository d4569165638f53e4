"""Instance segmentation's recipe for the engine (``seesall train instance``).

The engine calls ``model(*inputs(batch))`` in both modes, while Mask R-CNN must see
the targets while training (they choose its RoIs) and not at inference. The
``SegmenterModule`` below takes (images, targets, image_sizes) and passes the
targets on only in training mode; its outputs are the wrapped model's raw outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.nn.backbones import normalize_image
from seesall.structures import Objects, SceneBatch, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.instance.mask_rcnn import MaskRCNN
from seesall.tasks.instance.models import INSTANCE_MODELS, Segmenter
from seesall.world import THING_CLASSES, WorldConfig

NAME = "instance"
DEFAULT_MODEL = "mask_rcnn_small"


class SegmenterModule(nn.Module):
    """An ``nn.Module`` view of a :class:`Segmenter` for the engine."""

    def __init__(self, segmenter: Segmenter) -> None:
        super().__init__()
        self.model = segmenter.model
        self.criterion, self.post = segmenter.criterion, segmenter.postprocess

    def forward(self, images: Tensor, targets: Sequence[Objects],
                image_sizes: Sequence[tuple[int, int]]) -> Any:
        """images: Tensor[B, 3, H, W] uint8 padded; targets used only in training mode."""
        if isinstance(self.model, MaskRCNN):
            return self.model(images, list(targets) if self.training else None, image_sizes)
        return self.model(normalize_image(images))


def _factory(name: str) -> Any:
    def build(*, num_classes: int) -> SegmenterModule:
        return SegmenterModule(INSTANCE_MODELS[name](num_classes=num_classes))
    build.__doc__ = INSTANCE_MODELS[name].__doc__
    return build


MODELS: dict[str, Any] = {name: _factory(name) for name in INSTANCE_MODELS}


@dataclass(frozen=True)
class TaskConfig:
    """Options of the instance task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world scene seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world scene"})


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    return pick_model(NAME, MODELS, name)(num_classes=len(THING_CLASSES))


def inputs(batch: SceneBatch) -> tuple[Tensor, list[Objects], list[tuple[int, int]]]:
    return batch.images, [s.objects for s in batch.scenes], batch.image_sizes


def _loss(outputs: Any, batch: SceneBatch, *, module: SegmenterModule) -> dict[str, Tensor]:
    dev = batch.images.device
    losses = module.criterion(outputs, [s.objects.to(dev) for s in batch.scenes])
    losses["total"] = sum(losses.values())
    return losses


def _postprocess(outputs: Any, batch: SceneBatch, *, module: SegmenterModule) -> list[Objects]:
    return [p.to("cpu") for p in module.post(outputs, batch.image_sizes)]


class SegmEvaluator:
    """COCO mask AP (and box AP as ``box_AP``) for the engine."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.segm = CocoEvaluator(categories=class_names, iou_type="segm")
        self.bbox = CocoEvaluator(categories=class_names, iou_type="bbox")

    def reset(self) -> None:
        self.segm.reset()
        self.bbox.reset()

    def update(self, predictions: list[Objects], batch: SceneBatch) -> None:
        self.segm.update(batch.scenes, predictions)
        self.bbox.update(batch.scenes, predictions)

    def compute(self) -> dict[str, float]:
        segm, bbox = self.segm.compute(), self.bbox.compute()
        out = {k: float(v) for k, v in segm.items() if isinstance(v, float)}
        out["box_AP"] = float(bbox["AP"])
        return out

    def state(self) -> list[Any]:
        return [self.segm.state(), self.bbox.state()]

    def merge(self, states: list[list[Any]]) -> None:
        self.segm.merge([st[0] for st in states])
        self.bbox.merge([st[1] for st in states])


def segmenter_parts(cfg: RunConfig, world: WorldConfig, seed: int, module: SegmenterModule,
                    make_evaluator: Any) -> TaskParts:
    """The engine's parts for a Segmenter trained on world scenes from ``seed`` on (the
    instance and keypoint tasks differ only in their world and evaluator)."""
    train_set, val_set = world_splits(cfg, "scene", world, seed)
    return TaskParts(
        model=module,
        loss=functools.partial(_loss, module=module),
        inputs=inputs,
        postprocess=functools.partial(_postprocess, module=module),
        make_evaluator=make_evaluator,
        train_set=train_set,
        val_set=val_set,
        collate=functools.partial(collate, size_divisible=32),
        class_names=list(THING_CLASSES),
        best_metric="AP",
        best_mode="max",
    )


def build(cfg: RunConfig) -> TaskParts:
    """Model, losses, world data and COCO mask-AP evaluation for one run."""
    t, d = task_options(cfg, TaskConfig), cfg.data
    world = WorldConfig(size=(d.image_size, d.image_size), num_objects=(1, max(t.max_objects, 1)))
    module = build_model(cfg.model.name or DEFAULT_MODEL, cfg)
    return segmenter_parts(cfg, world, t.world_seed, module,
                           functools.partial(SegmEvaluator, list(THING_CLASSES)))


__all__ = ["MODELS", "NAME", "TaskConfig", "build", "build_model"]
