"""Labelled image sets for metric learning: real handwritten digits and world-object crops.

Both return an :class:`ImageSet`: uint8 images Tensor[N, 3, H, W] and int64
labels Tensor[N]. Nothing is downloaded: the digits ship with scikit-learn, the
crops are rendered by :mod:`seesall.world`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class ImageSet:
    """images: uint8 Tensor[N, 3, H, W]; labels: int64 Tensor[N]; class_names: tuple[str, ...]."""

    images: Tensor
    labels: Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise ValueError(f"ImageSet.images must be uint8 [N, 3, H, W], got "
                             f"{self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"ImageSet.labels must be Tensor[{len(self.images)}], got "
                             f"{tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Tensor) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index], self.class_names)

    def split(self, test_fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """A stratified (per-class) random train/test split."""
        g = torch.Generator().manual_seed(seed)
        train, test = [], []
        for c in self.labels.unique():
            idx = torch.nonzero(self.labels == c).squeeze(1)
            idx = idx[torch.randperm(len(idx), generator=g)]
            n_test = int(round(test_fraction * len(idx)))
            test.append(idx[:n_test])
            train.append(idx[n_test:])
        return self.subset(torch.cat(train).sort().values), self.subset(torch.cat(test).sort().values)


def load_digits_images() -> ImageSet:
    """scikit-learn's handwritten digits: 1,797 real 8×8 images (grey 0..16), 10 classes.

    Returned as uint8 RGB (grey copied to three channels, 0..16 scaled to 0..255).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # (N, 8, 8)
    images = torch.from_numpy(grey)[:, None].expand(-1, 3, -1, -1).contiguous()
    return ImageSet(images, torch.from_numpy(digits.target).long(),
                    tuple(str(i) for i in range(10)))


def crop_objects(image: Tensor, boxes: Tensor, *, size: int, context: float = 0.15) -> Tensor:
    """Square crops around each box, padded by ``context`` of its side, resized to ``size``.

    image: uint8 Tensor[3, H, W]; boxes: Tensor[N, 4] XYXY pixels -> uint8 Tensor[N, 3, s, s].
    Out-of-image parts are zero.
    """
    from torchvision.ops import roi_align

    if len(boxes) == 0:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8)
    b = boxes.float()
    c = (b[:, :2] + b[:, 2:]) / 2
    half = (b[:, 2:] - b[:, :2]).max(dim=1).values[:, None] * (0.5 + context)
    square = torch.cat([c - half, c + half], dim=1)  # (N, 4)
    rois = torch.cat([torch.zeros(len(b), 1), square], dim=1)  # (N, 5) batch index first
    crops = roi_align(image[None].float(), rois, output_size=size, aligned=True)
    return crops.round().clamp(0, 255).to(torch.uint8)


def world_crops(
    *, num_scenes: int, size: int = 32, seed: int = 0, image_size: int = 96,
    min_visible: float = 0.2,
) -> ImageSet:
    """Crops of the objects of ``num_scenes`` world scenes; label = the object's class.

    Objects whose visible mask covers less than ``min_visible`` of their box are
    skipped (heavily occluded crops show mostly other objects).
    """
    from seesall.world import THING_CLASSES, WorldConfig, render_scene

    cfg = WorldConfig(size=(image_size, image_size), num_objects=(2, 5),
                      min_size=image_size / 5, max_size=image_size / 2.5)
    images, labels = [], []
    for i in range(num_scenes):
        scene = render_scene(cfg, seed + i)
        objs = scene.objects
        boxes = objs.boxes.as_subclass(Tensor)
        area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp_min(1)
        keep = objs.masks.flatten(1).sum(1) / area >= min_visible if objs.masks is not None \
            else torch.ones(len(boxes), dtype=torch.bool)
        images.append(crop_objects(scene.image.as_subclass(Tensor), boxes[keep], size=size))
        labels.append(objs.labels[keep])
    return ImageSet(torch.cat(images), torch.cat(labels).long(), tuple(THING_CLASSES))


def upsample(images: Tensor, size: int) -> Tensor:
    """Resize uint8 images [N, C, H, W] to [N, C, size, size] (bilinear)."""
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)
