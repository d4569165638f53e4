"""World-crop data set: whole-object selection, crops against plain slicing, the recipe's
training-only augmentation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seesall.engine.config import DataConfig, ModelConfig, RunConfig
from seesall.tasks.embedding import recipe
from seesall.tasks.embedding.augment import AugmentConfig
from seesall.tasks.embedding.data import (
    CropConfig,
    ImageSet,
    clear_objects,
    crop_objects,
    world_crops,
)
from seesall.world import THING_CLASSES


def _box_mask(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> torch.Tensor:
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


def test_clear_objects_hand_case() -> None:
    # 0: far, its box touched by the nearer 1; 1: near, whole; 2: far but alone;
    # 3: near, cut by the left border.
    masks = torch.stack([_box_mask(40, 40, 5, 5, 15, 15), _box_mask(40, 40, 16, 5, 26, 15),
                         _box_mask(40, 40, 20, 25, 30, 35), _box_mask(40, 40, 0, 25, 6, 30)])
    boxes = torch.tensor([[5.0, 5, 15, 15], [16, 5, 26, 15], [20, 25, 30, 35], [0, 25, 6, 30]])
    depth = torch.tensor([3.0, 1.0, 3.0, 0.5])
    keep = clear_objects(masks, boxes, depth, canvas=(40, 40), pad=2)
    assert keep.tolist() == [False, True, True, False]
    # without the pad, 1 (one pixel to the right of 0's box) no longer counts as occluding 0
    assert clear_objects(masks, boxes, depth, canvas=(40, 40), pad=0).tolist()[0]


def test_crop_equals_slice_and_shifts_inside() -> None:
    img = torch.randint(0, 256, (3, 40, 48), dtype=torch.uint8, generator=torch.Generator()
                        .manual_seed(0))
    crop = crop_objects(img, torch.tensor([[10.0, 12, 26, 28]]), size=16, context=0.0)
    torch.testing.assert_close(crop[0], img[:, 12:28, 10:26])
    # a 16 px square with a 4 px margin around a box in the corner: shifted to [0, 24)
    crop = crop_objects(img, torch.tensor([[0.0, 0, 16, 16]]), size=24, context=0.25)
    torch.testing.assert_close(crop[0], img[:, 0:24, 0:24])
    # a square larger than the image keeps its centre: as much zero above as below
    flat = torch.full((3, 40, 48), 200, dtype=torch.uint8)
    big = crop_objects(flat, torch.tensor([[0.0, 0, 48, 40]]), size=12, context=0.0)[0, 0]
    assert (big[2:10] == 200).all() and (big[0] < 200).all()
    torch.testing.assert_close(big[0], big[11])


def test_world_crops_are_whole_objects_and_deterministic() -> None:
    cfg = CropConfig(image_size=64, min_size=12, max_size=28, max_per_scene=2)
    a = world_crops(num_scenes=12, size=16, seed=3, cfg=cfg)
    b = world_crops(num_scenes=12, size=16, seed=3, cfg=cfg)
    assert isinstance(a, ImageSet) and a.images.shape[1:] == (3, 16, 16)
    assert 0 < len(a) <= 24 and a.class_names == THING_CLASSES
    assert int(a.labels.max()) < len(THING_CLASSES)
    torch.testing.assert_close(a.images, b.images)
    loose = world_crops(num_scenes=12, size=16, seed=3,
                        cfg=CropConfig(image_size=64, min_size=12, max_size=28,
                                       clear_only=False, min_visible=0.0, max_per_scene=99))
    assert len(loose) > len(a)
    plain = world_crops(num_scenes=4, size=16, seed=3,
                        cfg=CropConfig(image_size=64, min_size=12, max_size=28,
                                       textures=("gradient",)))
    assert len(plain) > 0 and not torch.equal(plain.images, a.images[: len(plain)])


def test_recipe_augments_training_batches_only() -> None:
    data = ImageSet(torch.randint(0, 256, (8, 3, 12, 12), dtype=torch.uint8),
                    torch.arange(8) % 2, ("a", "b"))
    cfg = RunConfig(task_name="embedding", out="unused", model=ModelConfig(name="convnet_digits"),
                    data=DataConfig(source="digits", image_size=8),
                    task=recipe.TaskConfig(dim=8))
    aug = AugmentConfig(size=8, crop_scale=(0.3, 0.5), jitter=0.0, grayscale_p=0.0, blur_p=0.0)
    parts = recipe.parts_from_sets(cfg, data, data, size=8, augment=aug)
    train_batch = parts.collate([parts.train_set[i] for i in range(8)])
    val_batch = parts.collate([parts.val_set[i] for i in range(8)])
    plain = F.interpolate(data.images.float() / 255, size=(8, 8), mode="bilinear",
                          align_corners=False, antialias=True)
    torch.testing.assert_close(parts.inputs(val_batch)[0], plain)
    assert parts.inputs(train_batch)[0].shape == (8, 3, 8, 8)
    assert not torch.allclose(parts.inputs(train_batch)[0], plain, atol=0.05)


def test_recipe_triplet_distance_option() -> None:
    from seesall.tasks.embedding.criterion import TripletCriterion

    for squared in (True, False):
        crit = recipe._criterion(recipe.TaskConfig(squared=squared))
        assert isinstance(crit, TripletCriterion) and crit.squared is squared
