"""Object detection's recipe for the engine (``seesall train detection``).

The engine calls ``model(*inputs(batch))`` in both modes. Faster R-CNN must see
the targets while training (they choose which RoIs its box head scores) and not
at inference, so ``DetectorModule`` takes (images, targets, hard_negatives) and
passes them on only in training mode; its outputs are the wrapped model's raw
outputs. Data: ``--data world`` (the synthetic world) or ``--data coco:PATH``
(a COCO JSON file or a folder with ``annotations.json`` and ``images/``).
With ``--bootstrap-rounds R`` the run first goes through R rounds of Sung &
Poggio's bootstrapping (see :mod:`seesall.tasks.detection.bootstrap`) and the
engine then trains the final round with the mined false positives as hard negatives.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.structures import Objects, SceneBatch, collate
from seesall.tasks.detection.coco_eval import CocoEvaluator
from seesall.tasks.detection.models import DETECTORS, Detector
from seesall.world import THING_CLASSES, WorldConfig

NAME = "detection"
DEFAULT_MODEL = "retinanet_small"
MINING_SEED_OFFSET = 20_000_000


class DetectorModule(nn.Module):
    """An ``nn.Module`` view of a :class:`Detector` for the engine and checkpoints."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.model = detector.model
        self.detector = detector

    def forward(self, images: Tensor, targets: Sequence[Objects] | None = None,
                hard_negatives: Sequence[Tensor] | None = None) -> Any:
        """images: Tensor[B, 3, H, W] uint8 padded; targets used only in training mode."""
        if self.detector.two_stage and self.training and targets is not None:
            return self.model(images, list(targets), hard_negatives)
        return self.model(images)


@dataclass(frozen=True)
class TaskConfig:
    """Options of the detection task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world scene seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world scene"})
    cls_loss: str = field(default="focal", metadata={
        "help": "RetinaNet classification loss: focal, ce or ohem"})
    box_loss: str = field(default="smooth_l1", metadata={
        "help": "RetinaNet box loss: smooth_l1 or giou"})
    roi_pooler: str = field(default="align", metadata={
        "help": "Faster R-CNN RoI pooling: align (RoIAlign) or pool (RoIPool)"})
    bootstrap_rounds: int = field(default=0, metadata={
        "help": "rounds of Sung & Poggio bootstrapping before the final round"})
    bootstrap_pool: int = field(default=256, metadata={
        "help": "unseen images searched for false positives per bootstrapping round"})


def _options(name: str, t: TaskConfig) -> dict[str, Any]:
    if name.startswith("retinanet"):
        if t.cls_loss not in ("focal", "ce", "ohem") or t.box_loss not in ("smooth_l1", "giou"):
            raise ValueError(f"task.cls_loss must be focal/ce/ohem and task.box_loss "
                             f"smooth_l1/giou, got {t.cls_loss!r}, {t.box_loss!r}")
        return {"cls_loss": t.cls_loss, "box_loss": t.box_loss}
    if t.roi_pooler not in ("align", "pool"):
        raise ValueError(f"task.roi_pooler must be align or pool, got {t.roi_pooler!r}")
    return {"roi_pooler": t.roi_pooler}


def _factory(name: str) -> Any:
    def build(*, num_classes: int, **kw: Any) -> DetectorModule:
        return DetectorModule(DETECTORS[name](num_classes=num_classes, **kw))
    build.__doc__ = DETECTORS[name].__doc__
    return build


MODELS: dict[str, Any] = {name: _factory(name) for name in DETECTORS}


def build_model(name: str, cfg: RunConfig | None = None,
                num_classes: int | None = None) -> DetectorModule:
    factory = pick_model(NAME, MODELS, name)
    n = len(THING_CLASSES) if num_classes is None else num_classes
    return factory(num_classes=n, **_options(name, task_options(cfg, TaskConfig)))


def _inputs(batch: SceneBatch, *, hard: dict[int, Tensor]) -> tuple[Any, ...]:
    negs = None
    if hard:
        negs = [hard.get(s.image_id, torch.zeros(0, 4)).to(batch.images.device)
                for s in batch.scenes]
    return batch.images, [s.objects.to(batch.images.device) for s in batch.scenes], negs


def _loss(outputs: Any, batch: SceneBatch, *, module: DetectorModule) -> dict[str, Tensor]:
    dev = batch.images.device
    losses = module.detector.criterion(outputs, [s.objects.to(dev) for s in batch.scenes])
    losses["total"] = sum(losses.values())
    return losses


def _postprocess(outputs: Any, batch: SceneBatch, *, module: DetectorModule) -> list[Objects]:
    return [p.to("cpu") for p in module.detector.postprocess(outputs, batch.image_sizes)]


class DetectionEvaluator:
    """COCO box AP for the engine (``update(predictions, batch)``, DDP-mergeable)."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.coco = CocoEvaluator(categories=class_names, iou_type="bbox")

    def reset(self) -> None:
        self.coco.reset()

    def update(self, predictions: list[Objects], batch: SceneBatch) -> None:
        self.coco.update(batch.scenes, predictions)

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.coco.compute().items() if isinstance(v, float)}

    def state(self) -> dict[str, Any]:
        return self.coco.state()

    def merge(self, states: list[dict[str, Any]]) -> None:
        self.coco.merge(states)


def _datasets(cfg: RunConfig, t: TaskConfig) -> tuple[Dataset, Dataset | None, list[str]]:
    d = cfg.data
    if d.source == "world":
        world = WorldConfig(size=(d.image_size, d.image_size),
                            num_objects=(1, max(t.max_objects, 1)))
        train, val = world_splits(cfg, "scene", world, t.world_seed)
        return train, val, list(THING_CLASSES)
    if d.source.startswith("coco:"):
        from seesall.io.coco_read import CocoDataset

        full = CocoDataset(d.source[len("coco:"):])
        n_val = min(d.val_size, len(full) // 5)
        idx = list(range(len(full)))
        train = Subset(full, idx[n_val:][: d.train_size])
        return train, (Subset(full, idx[:n_val]) if n_val else None), list(full.class_names)
    raise ValueError(f"data.source must be 'world' or 'coco:PATH', got {d.source!r}")


def build(cfg: RunConfig) -> TaskParts:
    """Model, losses, data and COCO box-AP evaluation for one run."""
    t = task_options(cfg, TaskConfig)
    train_set, val_set, names = _datasets(cfg, t)
    module = build_model(cfg.model.name or DEFAULT_MODEL, cfg, num_classes=len(names))
    hard: dict[int, Tensor] = {}
    if t.bootstrap_rounds > 0:
        from seesall.tasks.detection.bootstrap import bootstrap_for_run

        train_set, hard = bootstrap_for_run(module, cfg, t, train_set, val_set, names)
    return TaskParts(
        model=module,
        loss=functools.partial(_loss, module=module),
        inputs=functools.partial(_inputs, hard=hard),
        postprocess=functools.partial(_postprocess, module=module),
        make_evaluator=functools.partial(DetectionEvaluator, names),
        train_set=train_set,
        val_set=val_set,
        collate=functools.partial(collate, size_divisible=32),
        class_names=names,
        best_metric="AP",
        best_mode="max",
    )


__all__ = ["MODELS", "NAME", "TaskConfig", "build", "build_model"]
