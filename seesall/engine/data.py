"""Data loading that can resume mid-epoch exactly.

The order of samples is a pure function of (seed, epoch), computed by torch's
``DistributedSampler`` (the same permutation for any number of processes; rank r
takes every world_size-th index). :class:`ResumableSampler` adds a start offset so a
resumed run skips what it already consumed. The DataLoader gets its own generator
(seeded from seed and epoch), so building it never draws from the global RNG the
model uses (dropout, ...). Datasets must be deterministic per index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffle, pad to a multiple of world size) that can start mid-epoch."""

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Epoch to permute by and number of this rank's samples already consumed in it."""
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


class ShardedEvalSampler(Sampler[int]):
    """Every index exactly once across processes (rank r takes r, r + W, ...; no padding)."""

    def __init__(self, size: int, *, num_replicas: int, rank: int) -> None:
        self.indices = list(range(rank, size, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class EpochStream:
    """Endless batches over epochs; knows (epoch, batch index in epoch) for checkpoints."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        batch_size: int,
        collate_fn: Callable[[list[Any]], Any],
        num_workers: int,
        seed: int,
        rank: int,
        world_size: int,
    ) -> None:
        if len(dataset) < batch_size * world_size:  # type: ignore[arg-type]
            raise ValueError(
                f"the training set has {len(dataset)} samples, fewer than one global batch "  # type: ignore[arg-type]
                f"({batch_size} x {world_size} processes)"
            )
        self.dataset, self.batch_size, self.collate_fn = dataset, batch_size, collate_fn
        self.num_workers, self.seed = num_workers, seed
        self.sampler = ResumableSampler(dataset, num_replicas=world_size, rank=rank, seed=seed)
        self.epoch, self.batch_in_epoch = 0, 0
        self._it: Iterator[Any] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return self.sampler.num_samples // self.batch_size

    def _start_epoch(self) -> None:
        self.sampler.set_position(self.epoch, self.batch_in_epoch * self.batch_size)
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            drop_last=True,
            collate_fn=self.collate_fn,
            num_workers=self.num_workers,
            generator=g,
            persistent_workers=False,
        )
        self._it = iter(loader)

    def __next__(self) -> Any:
        if self._it is None:
            self._start_epoch()
        if self.batch_in_epoch >= self.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._start_epoch()
        assert self._it is not None
        batch = next(self._it)
        self.batch_in_epoch += 1
        return batch

    def __iter__(self) -> EpochStream:
        return self

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batch_in_epoch = int(state["epoch"]), int(state["batch_in_epoch"])
        self._it = None


def eval_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    collate_fn: Callable[[list[Any]], Any],
    num_workers: int,
    rank: int,
    world_size: int,
) -> DataLoader:
    """A loader over this process's share of ``dataset`` (each sample once in total)."""
    sampler = ShardedEvalSampler(len(dataset), num_replicas=world_size, rank=rank)  # type: ignore[arg-type]
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, num_workers=num_workers)


def move_to(obj: Any, device: torch.device) -> Any:
    """Tensors, containers of them and objects with ``.to(device)`` moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple | list):
        return type(obj)(move_to(x, device) for x in obj)
    if isinstance(obj, dict):
        return {k: move_to(v, device) for k, v in obj.items()}
    if hasattr(obj, "to") and callable(obj.to):
        return obj.to(device)
    return obj
