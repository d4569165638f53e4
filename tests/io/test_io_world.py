"""Synthetic-world scenes through the COCO, label-PNG and flow formats."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

world = pytest.importorskip("seesall.world")

from seesall.io.coco import CocoDataset, write_coco  # noqa: E402
from seesall.io.labels import (  # noqa: E402
    decode_instance_ids,
    encode_instance_ids,
    read_instance_png,
    read_label_png,
    write_instance_png,
    write_label_png,
)


def _scenes(n: int = 3) -> list:
    cfg = world.WorldConfig(size=(64, 80))
    return [world.render_scene(cfg, seed).replace(image_id=seed + 1) for seed in range(n)]


def _write(tmp_path: Path, scenes: list, mask_format: str) -> Path:
    path = tmp_path / mask_format / "annotations.json"
    write_coco(path, scenes, images_dir=path.parent / "images",
               class_names=world.THING_CLASSES, mask_format=mask_format,
               keypoint_names=world.PERSON_KEYPOINTS, skeleton=world.PERSON_SKELETON,
               keypoint_labels=[world.THING_CLASSES.index("person")])
    return path


def test_world_scenes_round_trip_coco(tmp_path: Path) -> None:
    scenes = _scenes()
    path = _write(tmp_path, scenes, "rle")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    ds = CocoDataset(path)
    for i, scene in enumerate(scenes):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[scene.image_id]))
        masks = scene.objects.masks.numpy()
        assert len(anns) == len(scene.objects)
        for j, ann in enumerate(anns):
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), masks[j])
        got = ds[i]
        assert torch.equal(got.image, scene.image)
        for field in ("labels", "boxes", "masks", "ids", "depth"):
            assert torch.equal(getattr(got.objects, field), getattr(scene.objects, field))
        person = scene.objects.labels == world.THING_CLASSES.index("person")
        vis = scene.objects.visibility[person]
        assert torch.equal(got.objects.visibility[person], vis)
        labelled = vis > 0
        assert torch.equal(got.objects.keypoints[person][labelled],
                           scene.objects.keypoints[person][labelled])


def test_world_polygon_export_iou(tmp_path: Path) -> None:
    scenes = _scenes(4)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(_write(tmp_path, scenes, "polygon")))
    ious = []
    for scene in scenes:
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[scene.image_id]))
        for ann, mask in zip(anns, scene.objects.masks.numpy(), strict=True):
            got = coco.annToMask(ann).astype(bool)
            ious.append((got & mask).sum() / (got | mask).sum())
    # Pixel-edge polygons with keyhole cuts for holes (rings) come back pixel-exact.
    assert len(ious) > 10 and min(ious) == 1.0, ious


def test_world_label_pngs(tmp_path: Path) -> None:
    scene = _scenes(1)[0]
    semantic = scene.semantic.numpy()
    write_label_png(tmp_path / "s_labelIds.png", semantic)
    np.testing.assert_array_equal(read_label_png(tmp_path / "s_labelIds.png"), semantic)
    classes = np.array([world.semantic_id_of_thing(int(label))
                        for label in scene.objects.labels])
    ids = encode_instance_ids(semantic, scene.objects.masks.numpy(), classes)
    write_instance_png(tmp_path / "s_instanceIds.png", ids)
    back = read_instance_png(tmp_path / "s_instanceIds.png")
    np.testing.assert_array_equal(back, ids)
    cls, inst = decode_instance_ids(back)
    np.testing.assert_array_equal(cls, semantic)  # thing pixels carry their semantic id
    assert len(np.unique(inst[inst > 0])) <= len(scene.objects)
