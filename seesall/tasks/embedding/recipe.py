"""The embedding task's recipe for the engine: metric learning with a mined triplet or
contrastive loss, on world-object crops, the digits, or a folder of class sub-folders.

Data sources (``data.source``): ``"world"`` (crops of world objects, label = class),
``"digits"`` (scikit-learn's 8×8 digits, 70/30 split) or a folder with one
sub-folder per class (``train/`` and ``val/`` inside it if present).
The evaluator reports leave-one-out retrieval metrics on the validation set.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from seesall.engine.config import RunConfig
from seesall.engine.recipe import TaskParts
from seesall.tasks.embedding.augment import AugmentConfig
from seesall.tasks.embedding.batch_augment import BatchAugment
from seesall.tasks.embedding.criterion import ContrastiveCriterion, TripletCriterion, miner_table
from seesall.tasks.embedding.data import ImageSet, load_digits_images, upsample, world_crops
from seesall.tasks.embedding.embedder import MODELS, folder_labels, list_images
from seesall.tasks.embedding.metrics import retrieval_metrics
from seesall.tasks.embedding.probe import to_input
from seesall.tasks.embedding.sampling import PKBatchSet

NAME = "embedding"
DEFAULT_MODEL = "convnet_crops"
DEFAULTS = {"optim": {"warmup_steps": 50}}
"""Without a warm-up, full-rate first steps on world crops (whose pixels do not predict the
class) shrink every distance and the triplet / contrastive losses collapse to one point
(benchmarks/results/embedding.md)."""


@dataclass(frozen=True)
class TaskConfig:
    """Options of the embedding task (YAML section ``task:``)."""

    loss: str = field(default="triplet", metadata={"help": "triplet or contrastive"})
    miner: str = field(default="semihard", metadata={
        "help": "random, hardest, batch_hard, semihard, distance_weighted or all"})
    margin: float = field(default=0.2, metadata={"help": "triplet / contrastive margin"})
    dim: int = field(default=64, metadata={"help": "embedding dimension"})
    squared: bool = field(default=True, metadata={
        "help": "triplet loss on squared distances (FaceNet) or on plain distances"})
    classes_per_batch: int = field(default=0, metadata={
        "help": "P of class-balanced P×K training batches (each item is one P×K batch, "
                "data.batch_size counts them); 0 = uniformly random batches"})
    per_class: int = field(default=4, metadata={"help": "K of P×K batches: images per class"})


def task_config(cfg: RunConfig | None) -> TaskConfig:
    return cfg.task if cfg is not None and isinstance(cfg.task, TaskConfig) else TaskConfig()


class ImageSetDataset(Dataset):
    """An :class:`ImageSet` as a map-style dataset of (uint8 image [3, H, W], label, augment).

    ``augment`` (a bool tensor) marks training items: :func:`parts_from_sets`'s ``inputs``
    augments a batch whose items all carry it, and never an evaluation batch.
    """

    def __init__(self, data: ImageSet, *, augment: bool = False) -> None:
        self.data, self.augment = data, torch.tensor(augment)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        return self.data.images[i], self.data.labels[i], self.augment


def collate(items: list[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """Stack each field: (images [B, 3, H, W], labels [B], augment flags [B]).

    Items that are whole batches (:class:`~.sampling.PKBatchSet`, images [PK, 3, H, W])
    are concatenated instead.
    """
    join = torch.cat if items[0][0].ndim == 4 else torch.stack
    return tuple(join(field) for field in zip(*items, strict=True))


def train_dataset(cfg: RunConfig, train: ImageSet, *, augment: bool) -> Dataset:
    """Single images, or P×K batches when ``task.classes_per_batch`` > 0."""
    t = task_config(cfg)
    if t.classes_per_batch <= 0:
        return ImageSetDataset(train, augment=augment)
    pk = t.classes_per_batch * t.per_class
    length = max(len(train) // pk, cfg.trainer.max_steps * cfg.data.batch_size, 1)
    return PKBatchSet(train, classes_per_batch=t.classes_per_batch, per_class=t.per_class,
                      length=length, seed=cfg.trainer.seed, augment=augment)


def _folder_set(root: Path, size: int) -> ImageSet:
    from seesall.io.image import read_image_tensor

    files = list_images(root)
    labels, names = folder_labels(files, root)
    images = torch.stack([upsample(read_image_tensor(f)[None], size)[0] for f in files])
    return ImageSet(images, torch.from_numpy(labels), tuple(names))


def _datasets(cfg: RunConfig) -> tuple[ImageSet, ImageSet | None]:
    d = cfg.data
    if d.source == "world":
        train = world_crops(num_scenes=max(1, d.train_size), size=d.image_size,
                            seed=cfg.trainer.seed)
        val = world_crops(num_scenes=max(1, d.val_size), size=d.image_size,
                          seed=cfg.trainer.seed + 10_000_000) if d.val_size > 0 else None
        return train, val
    if d.source == "digits":
        return load_digits_images().split(0.3, seed=cfg.trainer.seed)
    root = Path(d.source)
    if not root.is_dir():
        raise ValueError(f"data.source {d.source!r}: expected 'world', 'digits' or a folder")
    train_root = root / "train" if (root / "train").is_dir() else root
    val = _folder_set(root / "val", d.image_size) if (root / "val").is_dir() else None
    return _folder_set(train_root, d.image_size), val


class RetrievalEvaluator:
    """Leave-one-out retrieval metrics over the validation embeddings (engine Evaluator)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._parts: list[tuple[Tensor, Tensor]] = []

    def update(self, predictions: Tensor, batch: tuple[Tensor, Tensor]) -> None:
        self._parts.append((predictions.detach().cpu(), batch[1].detach().cpu()))

    def compute(self) -> dict[str, float]:
        emb = torch.cat([p for p, _ in self._parts])
        labels = torch.cat([y for _, y in self._parts])
        return retrieval_metrics(emb, labels)

    def state(self) -> Any:
        return self._parts

    def merge(self, states: list[Any]) -> None:
        self._parts = [part for s in states for part in s]


def build_model(name: str, cfg: RunConfig | None = None) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown embedding model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](dim=task_config(cfg).dim)


def _loss(emb: Tensor, batch: tuple[Tensor, Tensor], *, criterion: Any) -> dict[str, Tensor]:
    losses = criterion(emb, batch[1])
    return {**losses, "total": sum(losses.values())}


def _criterion(t: TaskConfig) -> TripletCriterion | ContrastiveCriterion:
    if t.loss not in ("triplet", "contrastive"):
        raise ValueError(f"task.loss must be 'triplet' or 'contrastive', got {t.loss!r}")
    if t.classes_per_batch > 0 and t.per_class < 2:
        raise ValueError(f"task.per_class must be >= 2 with P×K batches, got {t.per_class}")
    miners = miner_table(margin=t.margin, dim=t.dim)
    if t.miner not in miners:
        raise ValueError(f"task.miner {t.miner!r}: choose from {', '.join(miners)}")
    return (TripletCriterion(miner=miners[t.miner], margin=t.margin, squared=t.squared)
            if t.loss == "triplet" else ContrastiveCriterion(margin=t.margin))


def _inputs(batch: tuple[Tensor, ...], *, size: int,
            augment: BatchAugment | None) -> tuple[Tensor]:
    """The model input of a batch: augmented views for training batches, else resized."""
    if augment is not None and len(batch) > 2 and bool(batch[2].all()):
        return (augment(batch[0]),)
    return (to_input(batch[0], size),)


def parts_from_sets(cfg: RunConfig, train: ImageSet, val: ImageSet | None, *, size: int,
                    augment: AugmentConfig | None = None) -> TaskParts:
    """Model, mined metric loss and retrieval evaluation on given image sets.

    ``size``: the model's input side; ``augment``: views drawn for training batches
    (its ``size`` must equal ``size``), None for plain resized images.
    """
    if augment is not None and augment.size != size:
        raise ValueError(f"augment.size {augment.size} must equal the input size {size}")
    return TaskParts(
        model=build_model(cfg.model.name or DEFAULT_MODEL, cfg),
        loss=functools.partial(_loss, criterion=_criterion(task_config(cfg))),
        inputs=functools.partial(_inputs, size=size,
                                 augment=BatchAugment(augment) if augment else None),
        postprocess=lambda emb, batch: emb,
        make_evaluator=RetrievalEvaluator,
        train_set=train_dataset(cfg, train, augment=augment is not None),
        val_set=ImageSetDataset(val) if val is not None else None,
        collate=collate,
        class_names=list(train.class_names),
        best_metric="map_at_r",
        best_mode="max",
    )


def build(cfg: RunConfig) -> TaskParts:
    """Model, mined metric loss, data and retrieval evaluation for one run."""
    _criterion(task_config(cfg))  # option errors before any data is made
    train, val = _datasets(cfg)
    size = cfg.data.image_size if cfg.data.source != "digits" else 8
    return parts_from_sets(cfg, train, val, size=size)
