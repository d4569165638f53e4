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


def test_world_pair_flow_files(tmp_path: Path) -> None:
    from seesall.io.flow import flow_to_numpy, flow_to_tensor, read_flow, write_flow

    if not hasattr(world, "render_pair"):
        pytest.skip("render_pair not available")
    pair = world.render_pair(world.WorldConfig(size=(48, 64)), 3)
    flow, valid = flow_to_numpy(pair.flow, pair.flow_valid)
    assert (~valid).any()  # occlusions or pixels leaving the image
    write_flow(tmp_path / "f.flo", flow, valid)
    got, got_valid = read_flow(tmp_path / "f.flo")
    np.testing.assert_array_equal(got_valid, valid)
    np.testing.assert_array_equal(got[valid], flow[valid])
    write_flow(tmp_path / "f.png", flow, valid)
    got, got_valid = read_flow(tmp_path / "f.png")
    np.testing.assert_array_equal(got_valid, valid)
    assert np.abs(got[valid] - flow[valid]).max() <= 0.5 / 64
    t_flow, t_valid = flow_to_tensor(got, got_valid)
    t_valid, p_valid = t_valid.as_subclass(torch.Tensor), pair.flow_valid.as_subclass(torch.Tensor)
    assert torch.allclose(t_flow.as_subclass(torch.Tensor)[:, t_valid],
                          pair.flow.as_subclass(torch.Tensor)[:, p_valid], atol=0.5 / 64)


def test_world_clip_video_files(tmp_path: Path) -> None:
    from seesall.io.video import read_video_tensor, write_video

    if not hasattr(world, "render_clip"):
        pytest.skip("render_clip not available")
    clip = world.render_clip(world.WorldConfig(size=(48, 64), clip_length=6), 1)
    write_video(tmp_path / "frames", clip.video)
    assert torch.equal(read_video_tensor(tmp_path / "frames"), clip.video)
    write_video(tmp_path / "c.mp4", clip.video)
    back = read_video_tensor(tmp_path / "c.mp4").double()
    mse = ((back - clip.video.double()) ** 2).mean()
    psnr = 10 * torch.log10(255.0**2 / mse)
    assert back.shape == clip.video.shape and psnr > 20, float(psnr)
