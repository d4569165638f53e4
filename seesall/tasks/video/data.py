"""Clips as model inputs: batching world clips, optional flow between consecutive frames."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from seesall.structures import Scene
from seesall.tasks.flow.classical import dis_flow

FlowFn = Callable[[Tensor, Tensor], Tensor]


def clip_flows(video: Tensor, flow_fn: FlowFn = dis_flow) -> Tensor:
    """Flow between consecutive frames of uint8 Tensor[T, 3, H, W] -> Tensor[2, T - 1, H, W]."""
    flows = [flow_fn(video[t], video[t + 1]) for t in range(video.shape[0] - 1)]
    return torch.stack(flows, dim=1)  # (2, T - 1, H, W)


def collate_clips(scenes: Sequence[Scene], *, with_flow: bool = False,
                  flow_fn: FlowFn = dis_flow) -> dict[str, Tensor]:
    """Scenes with ``video`` and ``action`` -> {"video": uint8 Tensor[B, T, 3, H, W],
    "labels": Tensor[B] int64, "flow": Tensor[B, 2, T - 1, H, W] (when ``with_flow``)}."""
    for s in scenes:
        if s.video is None or s.action is None:
            raise ValueError(f"scene {s.image_id} ({s.file_name}) has no video or no action")
    lengths = {tuple(s.video.shape) for s in scenes}
    if len(lengths) != 1:
        raise ValueError(f"clips of one batch must share [T, 3, H, W], got {sorted(lengths)}")
    out = {
        "video": torch.stack([s.video.as_subclass(Tensor) for s in scenes]),
        "labels": torch.tensor([s.action for s in scenes], dtype=torch.int64),
    }
    if with_flow:
        out["flow"] = torch.stack([clip_flows(s.video.as_subclass(Tensor), flow_fn)
                                   for s in scenes])
    return out


def temporal_subsample(video: Tensor, length: int, *, offset: int = 0, stride: int = 1) -> Tensor:
    """Frames ``offset, offset + stride, ...`` (``length`` of them) of Tensor[..., T, ...] on dim 1
    of a batched uint8 clip Tensor[B, T, 3, H, W]."""
    t = video.shape[1]
    last = offset + stride * (length - 1)
    if last >= t:
        raise ValueError(f"need frame {last} but the clip has T={t}")
    return video[:, offset : last + 1 : stride]
