"""Classification data: crops of world objects, or an image folder (one sub-folder per class)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torch.utils.data import Dataset

from seesall.io.image import read_image_tensor
from seesall.world import THING_CLASSES, WorldConfig, render_scene

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class WorldCrops(Dataset):
    """Item i: the most visible object of world scene ``seed + i``, cropped square and resized.

    Returns ``(Tensor[3, S, S] uint8, label)`` with label indexing ``THING_CLASSES``.
    Deterministic per index; rendered crops are kept in memory (``cache``).
    """

    def __init__(
        self,
        *,
        n: int,
        crop_size: int,
        seed: int,
        world: WorldConfig,
        margin: float = 0.15,
        cache: bool = True,
    ) -> None:
        if n < 1 or crop_size < 8:
            raise ValueError(f"WorldCrops needs n >= 1 and crop_size >= 8, got {n}, {crop_size}")
        self.n, self.crop_size, self.seed, self.world = n, crop_size, seed, world
        self.margin, self.cache = margin, cache
        self._cache: dict[int, tuple[Tensor, int]] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        if not 0 <= i < self.n:
            raise IndexError(f"WorldCrops index {i} out of range [0, {self.n})")
        if i in self._cache:
            return self._cache[i]
        item = self._render(i)
        if self.cache:
            self._cache[i] = item
        return item

    def _render(self, i: int) -> tuple[Tensor, int]:
        for attempt in range(16):  # a scene may lose every object to occlusion: draw another
            scene = render_scene(self.world, self.seed + i + attempt * 1_000_003)
            objs = scene.objects
            if len(objs.labels) == 0:
                continue
            if objs.masks is not None:
                area = objs.masks.flatten(1).sum(1)  # (N,)
            else:
                wh = (objs.boxes[:, 2:] - objs.boxes[:, :2]).clamp(min=0)
                area = wh.prod(1)
            k = int(area.argmax())
            return self._crop(scene.image.as_subclass(Tensor), objs.boxes[k].as_subclass(Tensor)), int(objs.labels[k])
        raise ValueError(f"world scene {self.seed + i}: no visible object in 16 draws; raise num_objects")

    def _crop(self, image: Tensor, box: Tensor) -> Tensor:
        x0, y0, x1, y1 = box.tolist()
        side = max(x1 - x0, y1 - y0, 4.0) * (1.0 + self.margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        top, left = round(cy - side / 2), round(cx - side / 2)
        s = max(round(side), 1)
        return TF.resized_crop(image, top, left, s, s, [self.crop_size] * 2, antialias=True)


class ImageFolderDataset(Dataset):
    """``root/<class name>/<image>``: classes are the sorted sub-folder names.

    Returns ``(Tensor[3, S, S] uint8, label)``, every image resized to S x S.
    """

    def __init__(self, root: str | os.PathLike, *, crop_size: int, classes: list[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder not found: {self.root}")
        found = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        self.classes = list(classes) if classes is not None else found
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            warnings.warn(f"{self.root}: skipping folders of classes the model does not know: {unknown}",
                          stacklevel=2)
        if not self.classes:
            raise ValueError(f"{self.root}: no class sub-folders (expected root/<class>/<image>)")
        self.items = [
            (f, c)
            for c, name in enumerate(self.classes)
            if (self.root / name).is_dir()
            for f in sorted((self.root / name).iterdir())
            if f.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not self.items:
            raise ValueError(f"{self.root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders")
        self.crop_size = crop_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        path, label = self.items[i]
        image = read_image_tensor(path).as_subclass(Tensor)  # ValueError names the file
        return TF.resize(image, [self.crop_size] * 2, antialias=True), label


def collate_crops(items: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """-> (images Tensor[B, 3, S, S] uint8, labels Tensor[B] int64)."""
    images = torch.stack([im for im, _ in items])
    labels = torch.tensor([lb for _, lb in items], dtype=torch.int64)
    return images, labels


def world_class_names() -> list[str]:
    return list(THING_CLASSES)
