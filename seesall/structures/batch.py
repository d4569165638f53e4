"""Batching scenes of different sizes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seesall.structures.scene import Scene


@dataclass
class SceneBatch:
    """Scenes stacked for a model.

    Attributes:
        images: Tensor[B, 3, H, W] uint8, each image top-left aligned and zero-padded
            to the largest H and W of the batch (rounded up to ``size_divisible``).
        image_sizes: the (H, W) of every image before padding.
        scenes: the scenes themselves, for the targets.
    """

    images: Tensor
    image_sizes: list[tuple[int, int]]
    scenes: list[Scene]

    def __len__(self) -> int:
        return len(self.scenes)

    def to(self, device: torch.device | str) -> SceneBatch:
        """Moves the padded images; scenes stay where they are (targets move in the losses)."""
        return SceneBatch(self.images.to(device), self.image_sizes, self.scenes)


def pad_images(images: list[Tensor], size_divisible: int = 1) -> Tensor:
    """Stack Tensor[C, H_i, W_i] into Tensor[B, C, H, W], zero-padded at the bottom/right."""
    if not images:
        raise ValueError("pad_images needs at least one image")
    c = images[0].shape[-3]
    h = max(int(im.shape[-2]) for im in images)
    w = max(int(im.shape[-1]) for im in images)
    h = -(-h // size_divisible) * size_divisible
    w = -(-w // size_divisible) * size_divisible
    out = images[0].new_zeros((len(images), c, h, w))
    for i, im in enumerate(images):
        if im.shape[-3] != c:
            raise ValueError(f"image {i} has {im.shape[-3]} channels, image 0 has {c}")
        out[i, :, : im.shape[-2], : im.shape[-1]] = im
    return out


def collate(scenes: list[Scene], size_divisible: int = 1) -> SceneBatch:
    """A DataLoader ``collate_fn`` for scenes of different sizes."""
    images = pad_images([s.image.as_subclass(Tensor) for s in scenes], size_divisible)
    return SceneBatch(images, [s.size for s in scenes], list(scenes))
