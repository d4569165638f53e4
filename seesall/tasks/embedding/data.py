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

from seesall.structures import Scene


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
    A square that fits in the image is shifted into it; parts still outside are zero.
    """
    from torchvision.ops import roi_align

    if len(boxes) == 0:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8)
    b = boxes.float()
    c = (b[:, :2] + b[:, 2:]) / 2
    half = (b[:, 2:] - b[:, :2]).max(dim=1).values[:, None] * (0.5 + context)
    hw = torch.tensor([image.shape[-1], image.shape[-2]], dtype=b.dtype)
    inside = torch.minimum(torch.maximum(c, half), hw - half)
    c = torch.where(2 * half <= hw, inside, c)  # shifted into the image where it fits
    square = torch.cat([c - half, c + half], dim=1)  # (N, 4)
    rois = torch.cat([torch.zeros(len(b), 1), square], dim=1)  # (N, 5) batch index first
    crops = roi_align(image[None].float(), rois, output_size=size, aligned=True)
    return crops.round().clamp(0, 255).to(torch.uint8)


def clear_objects(masks: Tensor, boxes: Tensor, depth: Tensor, *, canvas: tuple[int, int],
                  pad: int = 2) -> Tensor:
    """Which objects are whole: not cut by the image border, not touched by a nearer object.

    masks: bool Tensor[N, H, W] (visible masks), boxes: Tensor[N, 4] XYXY (tight on the
    visible mask), depth: Tensor[N] (larger is farther) -> bool Tensor[N]. An occluder's
    visible pixels border the part of the object it hides, so an object counts as
    occluded when a nearer object's mask enters its box grown by ``pad`` pixels.
    """
    h, w = canvas
    b = boxes.round().long()
    inside = (b[:, 0] > 0) & (b[:, 1] > 0) & (b[:, 2] < w) & (b[:, 3] < h)
    keep = inside.clone()
    for i in range(len(b)):
        x0, y0 = max(int(b[i, 0]) - pad, 0), max(int(b[i, 1]) - pad, 0)
        x1, y1 = int(b[i, 2]) + pad, int(b[i, 3]) + pad
        nearer = depth < depth[i]
        if nearer.any() and masks[nearer, y0:y1, x0:x1].any():
            keep[i] = False
    return keep


@dataclass(frozen=True)
class CropConfig:
    """How the world-crop data set is drawn (scenes, object sizes, which objects to crop).

    Attributes:
        image_size: side of the rendered scenes in pixels.
        num_objects: (min, max) objects per scene.
        min_size, max_size: object size range in pixels (diameter / person height).
        clear_only: crop only whole objects (:func:`clear_objects`); otherwise every
            object whose visible mask covers at least ``min_visible`` of its box.
        min_visible: the visible-fraction threshold when ``clear_only`` is False.
        context: margin around the box, as a fraction of its longer side.
        max_per_scene: most crops taken from one scene (the largest whole ones).
        textures: the world's procedural textures objects and backgrounds may wear
            (None: all of them).
    """

    image_size: int = 128
    num_objects: tuple[int, int] = (1, 4)
    min_size: float = 24.0
    max_size: float = 56.0
    clear_only: bool = True
    min_visible: float = 0.2
    context: float = 0.2
    max_per_scene: int = 2
    textures: tuple[str, ...] | None = None


def _scene_crops(scene: Scene, cfg: CropConfig, size: int) -> tuple[Tensor, Tensor]:
    objs = scene.objects
    boxes = objs.boxes.as_subclass(Tensor)
    if len(boxes) == 0:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, dtype=torch.long)
    masks = objs.masks.as_subclass(Tensor)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp_min(1)
    if cfg.clear_only:
        keep = clear_objects(masks, boxes, objs.depth, canvas=tuple(masks.shape[-2:]))
    else:
        keep = masks.flatten(1).sum(1) / area >= cfg.min_visible
    idx = torch.nonzero(keep).squeeze(1)
    idx = idx[area[idx].argsort(descending=True)][: cfg.max_per_scene]
    crops = crop_objects(scene.image.as_subclass(Tensor), boxes[idx], size=size,
                         context=cfg.context)
    return crops, objs.labels[idx].long()


def world_crops(
    *, num_scenes: int, size: int = 32, seed: int = 0, cfg: CropConfig | None = None,
) -> ImageSet:
    """Crops of the objects of ``num_scenes`` world scenes; label = the object's class.

    By default only whole objects (not occluded, not cut by the border), at most
    ``cfg.max_per_scene`` per scene, each with a ``cfg.context`` margin of scene around it.
    """
    from seesall.world import THING_CLASSES, WorldConfig, render_scene

    cfg = cfg or CropConfig()
    s = cfg.image_size
    world = WorldConfig(size=(s, s), num_objects=cfg.num_objects, min_size=cfg.min_size,
                        max_size=cfg.max_size, **({"textures": cfg.textures} if cfg.textures
                                                  else {}))
    images, labels = [], []
    for i in range(num_scenes):
        crops, y = _scene_crops(render_scene(world, seed + i), cfg, size)
        images.append(crops)
        labels.append(y)
    return ImageSet(torch.cat(images), torch.cat(labels), tuple(THING_CLASSES))


def unlabelled(*sets: ImageSet) -> ImageSet:
    """The images of ``sets`` concatenated, every label -1 (no label): SimCLR's pool.

    Self-supervised training reads only the images; the -1 labels make any accidental
    use of a label fail (negative class index) rather than leak one.
    """
    if not sets:
        raise ValueError("unlabelled: needs at least one ImageSet")
    sizes = {tuple(s.images.shape[1:]) for s in sets}
    if len(sizes) != 1:
        raise ValueError(f"unlabelled: image shapes differ across sets: {sorted(sizes)}")
    images = torch.cat([s.images for s in sets])
    return ImageSet(images, torch.full((len(images),), -1, dtype=torch.long),
                    sets[0].class_names)


def upsample(images: Tensor, size: int) -> Tensor:
    """Resize uint8 images [N, C, H, W] to [N, C, size, size] (bilinear)."""
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)
