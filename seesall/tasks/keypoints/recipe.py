"""Keypoints' recipe for the engine (``seesall train keypoints``): Keypoint R-CNN on world
scenes, COCO keypoint AP of the person class with the synthetic person's OKS sigmas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts, pick_model, task_options
from seesall.tasks.instance.recipe import SegmenterModule, segmenter_parts
from seesall.tasks.keypoints.metrics import SYNTHETIC_PERSON_SIGMAS, KeypointEvaluator
from seesall.tasks.keypoints.models import KEYPOINT_MODELS
from seesall.world import PERSON_KEYPOINTS, THING_CLASSES, WorldConfig

NAME = "keypoints"
DEFAULT_MODEL = "keypoint_rcnn_small"
PERSON = THING_CLASSES.index("person")


def _factory(name: str) -> Any:
    def build(*, num_classes: int) -> SegmenterModule:
        return SegmenterModule(KEYPOINT_MODELS[name](
            num_classes=num_classes, num_keypoints=len(PERSON_KEYPOINTS),
            keypoint_classes=(PERSON,)))
    build.__doc__ = KEYPOINT_MODELS[name].__doc__
    return build


MODELS: dict[str, Any] = {name: _factory(name) for name in KEYPOINT_MODELS}


@dataclass(frozen=True)
class TaskConfig:
    """Options of the keypoints task (YAML section ``task:``)."""

    world_seed: int = field(default=0, metadata={"help": "first world scene seed of training"})
    max_objects: int = field(default=6, metadata={"help": "most objects per world scene"})
    world_classes: str = field(default="person,circle,square",
                               metadata={"help": "comma-separated thing classes drawn"})


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    return pick_model(NAME, MODELS, name)(num_classes=len(THING_CLASSES))


class PersonKeypointEvaluator(KeypointEvaluator):
    """KeypointEvaluator for the person class, with the engine's state/merge."""

    def __init__(self) -> None:
        super().__init__(classes=[PERSON], class_names=["person"], sigmas=SYNTHETIC_PERSON_SIGMAS)

    def update(self, predictions: Any, batch: Any) -> None:  # engine order: (preds, batch)
        super().update(batch.scenes, predictions)

    def state(self) -> tuple[list, list, list]:
        return self._images, self._anns, self._results

    def merge(self, states: list[tuple[list, list, list]]) -> None:
        self.reset()
        for images, anns, results in states:
            self._images += images
            self._anns += anns
            self._results += results


def build(cfg: RunConfig) -> TaskParts:
    t, d = task_options(cfg, TaskConfig), cfg.data
    classes = tuple(c.strip() for c in t.world_classes.split(",") if c.strip())
    world = WorldConfig(size=(d.image_size, d.image_size), num_objects=(1, max(t.max_objects, 1)),
                        classes=classes)
    module = build_model(cfg.model.name or DEFAULT_MODEL, cfg)
    return segmenter_parts(cfg, world, t.world_seed, module, PersonKeypointEvaluator)
