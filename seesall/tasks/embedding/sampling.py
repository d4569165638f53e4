"""Class-balanced P×K batches for metric learning.

A P×K batch holds ``P`` distinct classes and ``K`` images of each, so every anchor
has ``K − 1`` positives and ``(P − 1)·K`` negatives in the batch (FaceNet, "In
Defense of the Triplet Loss"; pytorch-metric-learning's ``MPerClassSampler``).
Within a class the K images are drawn without replacement when the class has at
least K images, with replacement otherwise (as ``MPerClassSampler`` does).

:class:`PKBatchSet` serves whole P×K batches as the items of a map-style dataset,
each a deterministic function of its index, so the engine's shuffling sampler and
exact resume work unchanged: with it, the engine's ``data.batch_size`` counts P×K
batches per step (normally 1) and :func:`~seesall.tasks.embedding.recipe.collate`
concatenates them.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset

from seesall.tasks.embedding.data import ImageSet


def class_index(labels: Tensor, *, min_count: int = 2) -> list[Tensor]:
    """Indices of each class with at least ``min_count`` items: list of Tensor[n_c] int64."""
    if labels.ndim != 1:
        raise ValueError(f"labels must be Tensor[N], got shape {tuple(labels.shape)}")
    groups = [torch.nonzero(labels == c).squeeze(1) for c in labels.unique()]
    return [g for g in groups if len(g) >= min_count]


def pk_indices(by_class: list[Tensor], *, classes_per_batch: int, per_class: int,
               generator: torch.Generator | None = None) -> Tensor:
    """One P×K batch: Tensor[P·K] int64, class by class (K consecutive items per class).

    ``P = min(classes_per_batch, len(by_class))`` distinct classes drawn uniformly.
    """
    if classes_per_batch < 1 or per_class < 1:
        raise ValueError(f"classes_per_batch and per_class must be >= 1, got "
                         f"{classes_per_batch} and {per_class}")
    if not by_class:
        raise ValueError("pk_indices needs at least one class with two or more items")
    p = min(classes_per_batch, len(by_class))
    parts = []
    for c in torch.randperm(len(by_class), generator=generator)[:p].tolist():
        idx = by_class[c]
        if len(idx) >= per_class:
            pick = torch.randperm(len(idx), generator=generator)[:per_class]
        else:
            pick = torch.randint(0, len(idx), (per_class,), generator=generator)
        parts.append(idx[pick])
    return torch.cat(parts)


class PKBatchSet(Dataset):
    """Map-style dataset of P×K batches of an :class:`ImageSet`.

    Item ``i`` is ``(images uint8 Tensor[P·K, 3, H, W], labels Tensor[P·K],
    augment flags bool Tensor[P·K])``, drawn with a generator seeded by
    ``(seed, i)``: the same index always gives the same batch.

    Args:
        length: number of distinct batches (the engine's epoch length in items).
    """

    def __init__(self, data: ImageSet, *, classes_per_batch: int, per_class: int,
                 length: int, seed: int = 0, augment: bool = False) -> None:
        if per_class < 2:
            raise ValueError(f"per_class must be >= 2 (an anchor needs a positive), "
                             f"got {per_class}")
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.data, self.by_class = data, class_index(data.labels)
        if len(self.by_class) < 2:
            raise ValueError("P×K batches need at least two classes with two or more images")
        self.p, self.k, self.length, self.seed = classes_per_batch, per_class, length, seed
        self.augment = augment

    def __len__(self) -> int:
        return self.length

    def indices(self, i: int) -> Tensor:
        """The dataset indices of batch ``i``: Tensor[P·K]."""
        if not 0 <= i < self.length:
            raise IndexError(f"batch index {i} out of range [0, {self.length})")
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        return pk_indices(self.by_class, classes_per_batch=self.p, per_class=self.k,
                          generator=g)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        idx = self.indices(i)
        flags = torch.full((len(idx),), self.augment, dtype=torch.bool)
        return self.data.images[idx], self.data.labels[idx], flags
