"""Flow training batches: pairs stacked as tensors, random crops and flips that keep flow exact."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from seesall.structures import Scene


@dataclass
class FlowBatch:
    """image1, image2: uint8 Tensor[B, 3, H, W]; flow: Tensor[B, 2, H, W]; valid: Tensor[B, H, W] bool."""

    image1: Tensor
    image2: Tensor
    flow: Tensor
    valid: Tensor

    def __len__(self) -> int:
        return int(self.image1.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> FlowBatch:
        return FlowBatch(*(t.to(device, non_blocking=non_blocking)
                           for t in (self.image1, self.image2, self.flow, self.valid)))

    def __getitem__(self, index: Tensor | slice) -> FlowBatch:
        return FlowBatch(self.image1[index], self.image2[index], self.flow[index], self.valid[index])


def stack_pairs(scenes: Sequence[Scene]) -> FlowBatch:
    """Scenes with ``image2``, ``flow`` and ``flow_valid`` (all the same size) -> FlowBatch."""
    for s in scenes:
        if s.image2 is None or s.flow is None:
            raise ValueError(f"scene {s.image_id} ({s.file_name}) has no image2 / flow")
    t = lambda x: x.as_subclass(Tensor)  # noqa: E731
    return FlowBatch(
        torch.stack([t(s.image) for s in scenes]), torch.stack([t(s.image2) for s in scenes]),
        torch.stack([t(s.flow).float() for s in scenes]), torch.stack([t(s.flow_valid) for s in scenes]),
    )


def hflip(batch: FlowBatch) -> FlowBatch:
    """Mirror left-right: pixels flip along W and the horizontal component u changes sign."""
    flow = batch.flow.flip(-1) * batch.flow.new_tensor([-1.0, 1.0]).view(1, 2, 1, 1)
    return FlowBatch(batch.image1.flip(-1), batch.image2.flip(-1), flow, batch.valid.flip(-1))


def vflip(batch: FlowBatch) -> FlowBatch:
    """Mirror top-bottom: pixels flip along H and the vertical component v changes sign."""
    flow = batch.flow.flip(-2) * batch.flow.new_tensor([1.0, -1.0]).view(1, 2, 1, 1)
    return FlowBatch(batch.image1.flip(-2), batch.image2.flip(-2), flow, batch.valid.flip(-2))


def random_crop_flip(batch: FlowBatch, crop: tuple[int, int], generator: torch.Generator) -> FlowBatch:
    """One random crop of size ``crop`` (same window for both frames: flow is unchanged)
    and random horizontal / vertical flips, for the whole batch."""
    h, w = batch.image1.shape[-2:]
    ch, cw = crop
    if ch > h or cw > w:
        raise ValueError(f"crop {crop} is larger than the pairs ({h}, {w})")
    y = int(torch.randint(0, h - ch + 1, (1,), generator=generator))
    x = int(torch.randint(0, w - cw + 1, (1,), generator=generator))
    out = FlowBatch(batch.image1[..., y : y + ch, x : x + cw], batch.image2[..., y : y + ch, x : x + cw],
                    batch.flow[..., y : y + ch, x : x + cw], batch.valid[..., y : y + ch, x : x + cw])
    if torch.rand((), generator=generator) < 0.5:
        out = hflip(out)
    if torch.rand((), generator=generator) < 0.5:
        out = vflip(out)
    return out
