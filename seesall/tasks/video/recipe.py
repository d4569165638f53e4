"""Action recognition's recipe for the engine (``seesall train action``) on world clips."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options, world_splits
from seesall.structures import Scene
from seesall.tasks.video.data import collate_clips
from seesall.tasks.video.metrics import TopKAccuracy
from seesall.tasks.video.models import MODELS as ACTION_MODELS
from seesall.tasks.video.models import choose_fusion_weight, normalize_video
from seesall.tasks.video.train import action_loss
from seesall.world import ACTIONS, WorldConfig

NAME = "action"
MODELS: dict[str, Any] = ACTION_MODELS
DEFAULT_MODEL = "r3d_motion"


@dataclass(frozen=True)
class TaskConfig:
    """Options of the action task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world clip seed of training"})
    clip_length: int = field(default=8, metadata={"help": "frames per clip"})
    kinematogram: bool = field(default=False, metadata={"help": "random-dot clips (motion only)"})
    max_objects: int = field(default=3, metadata={"help": "most distractors per clip"})
    fusion_holdout: int = field(default=96, metadata={
        "help": "training clips held out of a two-stream model's training to choose its fusion weight "
                "(0: fuse with equal weights, train on every clip)"})


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    factory = pick_model(NAME, MODELS, name)
    return factory(num_classes=len(ACTIONS), clip_length=task_options(cfg, TaskConfig).clip_length)


def _inputs(batch: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
    return normalize_video(batch["video"]), batch.get("flow")


def _loss(outputs: Tensor, batch: dict[str, Tensor]) -> dict[str, Tensor]:
    losses = action_loss(outputs, batch["labels"])
    losses["total"] = losses["loss_action"]
    return losses


def _postprocess(outputs: Tensor, batch: dict[str, Tensor]) -> Tensor:
    return outputs.detach().cpu()


class ActionEvaluator:
    """The engine's evaluator around :class:`TopKAccuracy` (top-1 / top-5)."""

    def __init__(self) -> None:
        self.logits: list[Tensor] = []
        self.labels: list[Tensor] = []

    def reset(self) -> None:
        self.logits, self.labels = [], []

    def update(self, predictions: Tensor, batch: dict[str, Tensor]) -> None:
        self.logits.append(predictions)
        self.labels.append(batch["labels"].cpu())

    def compute(self) -> dict[str, float]:
        m = TopKAccuracy(class_names=ACTIONS)
        if self.logits:
            m.update(torch.cat(self.logits), torch.cat(self.labels))
        return m.compute()

    def state(self) -> tuple[list[Tensor], list[Tensor]]:
        return self.logits, self.labels

    def merge(self, states: list[tuple[list[Tensor], list[Tensor]]]) -> None:
        self.reset()
        for logits, labels in states:
            self.logits += logits
            self.labels += labels


def _collate(scenes: list[Scene], *, with_flow: bool) -> dict[str, Tensor]:
    return collate_clips(scenes, with_flow=with_flow)


class FusionChooser:
    """Sets a two-stream model's fusion weight to the one ``choose_fusion_weight`` picks on
    ``clips`` (training clips held out of its training); the clips are rendered and collated
    once, on the first call, and reused at every later evaluation."""

    def __init__(self, clips: Dataset, *, batch_size: int, collate: Any) -> None:
        self.clips, self.batch_size, self.collate = clips, batch_size, collate
        self._batches: list[dict[str, Tensor]] | None = None

    def __call__(self, model: nn.Module, device: torch.device) -> None:
        if self._batches is None:
            self._batches = list(DataLoader(self.clips, batch_size=self.batch_size, collate_fn=self.collate))
        streams = [model.stream_logits(normalize_video(b["video"].to(device)), b["flow"].to(device)).float().cpu()
                   for b in self._batches]
        labels = torch.cat([b["labels"] for b in self._batches])
        model.set_fusion_weight(choose_fusion_weight(torch.cat(streams), labels, fusion=model.fusion))


def build(cfg: RunConfig) -> TaskParts:
    """A clip model, cross-entropy, world clips of ``data.image_size``, top-1 / top-5.

    A two-stream model trained with per-stream losses trains on all but the last
    ``task.fusion_holdout`` training clips; its fusion weight is chosen on those before every
    evaluation (``choose_fusion_weight``), never on the validation clips.
    """
    t, d = task_options(cfg, TaskConfig), cfg.data
    world = WorldConfig(size=(d.image_size, d.image_size), clip_length=t.clip_length,
                        num_objects=(0, max(t.max_objects, 0)), kinematogram=t.kinematogram)
    model = build_model(cfg.model.name or DEFAULT_MODEL, cfg)
    train_set, val_set = world_splits(cfg, "clip", world, t.world_seed)
    collate = functools.partial(_collate, with_flow=bool(getattr(model, "uses_flow", False)))
    calibrate = None
    if getattr(model, "stream_losses", False) and t.fusion_holdout > 0:
        n, k = len(train_set), t.fusion_holdout
        if k >= n:
            raise ValueError(f"task.fusion_holdout={k} leaves no training clip of data.train_size={n}")
        held = Subset(train_set, range(n - k, n))
        train_set = Subset(train_set, range(n - k))
        calibrate = FusionChooser(held, batch_size=d.batch_size, collate=collate)
    return TaskParts(
        model=model,
        loss=_loss,
        inputs=_inputs,
        postprocess=_postprocess,
        make_evaluator=ActionEvaluator,
        train_set=train_set,
        val_set=val_set,
        collate=collate,
        class_names=list(ACTIONS),
        best_metric="top1",
        best_mode="max",
        calibrate=calibrate,
    )
