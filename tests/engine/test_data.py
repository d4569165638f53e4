"""Sampling: torch's DistributedSampler order, resumable mid-epoch, eval shards without padding."""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler, TensorDataset, default_collate

from seesall.engine.data import EpochStream, ResumableSampler, ShardedEvalSampler

DATA = TensorDataset(torch.arange(20))


def test_same_order_as_distributed_sampler() -> None:
    for rank in range(2):
        ref = DistributedSampler(DATA, num_replicas=2, rank=rank, shuffle=True, seed=7)
        ours = ResumableSampler(DATA, num_replicas=2, rank=rank, seed=7)
        ref.set_epoch(3)
        ours.set_position(3, 0)
        assert list(ours) == list(ref)
        ours.set_position(3, 4)
        assert list(ours) == list(ref)[4:] and len(ours) == len(ref) - 4


def test_two_ranks_see_the_single_process_batches() -> None:
    one = list(ResumableSampler(DATA, num_replicas=1, rank=0, seed=1))
    r0 = list(ResumableSampler(DATA, num_replicas=2, rank=0, seed=1))
    r1 = list(ResumableSampler(DATA, num_replicas=2, rank=1, seed=1))
    for step in range(2):  # global batch 8 = 4 per rank
        assert sorted(r0[4 * step : 4 * step + 4] + r1[4 * step : 4 * step + 4]) == sorted(one[8 * step : 8 * step + 8])


def test_stream_resumes_mid_epoch() -> None:
    def stream() -> EpochStream:
        return EpochStream(DATA, batch_size=3, collate_fn=default_collate, num_workers=0, seed=0, rank=0, world_size=1)

    full = stream()
    ref = [next(full)[0].tolist() for _ in range(14)]  # 6 batches per epoch: crosses 2 epochs
    first = stream()
    head = [next(first)[0].tolist() for _ in range(8)]
    resumed = stream()
    resumed.load_state_dict(first.state_dict())
    assert head + [next(resumed)[0].tolist() for _ in range(6)] == ref


def test_eval_shards_cover_each_sample_once() -> None:
    shards = [list(ShardedEvalSampler(7, num_replicas=3, rank=r)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(7))
