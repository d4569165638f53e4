"""Export -> read back round trips, checked with pycocotools and the raw label files."""

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from seesall.cli.world import WORLD_TABLES
from seesall.data.export import export_clips, export_scenes, mot_lines
from seesall.data.folder import ClipFolder, SceneFolder, read_mot
from seesall.world import WorldConfig, render_clip, render_pair

CFG = WorldConfig(size=(64, 80), num_objects=(3, 5), clip_length=6)


def _plain(t):
    return t.as_subclass(torch.Tensor)


@pytest.fixture(scope="module")
def pairs():
    return [render_pair(CFG, seed).replace(image_id=i) for i, seed in enumerate((3, 4, 5))]


def test_scene_folder_round_trip(tmp_path, pairs):
    export_scenes(pairs, tmp_path, WORLD_TABLES)
    back = SceneFolder(tmp_path)
    assert len(back) == len(pairs)
    for a, b in zip(pairs, back):
        assert torch.equal(_plain(a.image), _plain(b.image))
        assert torch.equal(_plain(a.image2), _plain(b.image2))
        assert torch.equal(a.objects.labels, b.objects.labels)
        assert torch.equal(_plain(a.objects.boxes), _plain(b.objects.boxes))
        assert torch.equal(_plain(a.objects.masks), _plain(b.objects.masks))
        assert torch.equal(a.objects.ids, b.objects.ids)
        seen = a.objects.visibility > 0
        assert torch.equal(a.objects.visibility, b.objects.visibility)
        assert torch.allclose(_plain(a.objects.keypoints)[seen], _plain(b.objects.keypoints)[seen], atol=1e-4)
        assert torch.equal(_plain(a.semantic), _plain(b.semantic))
        assert torch.allclose(_plain(a.depth), _plain(b.depth), atol=1 / 512)
        valid = _plain(a.flow_valid)
        assert torch.equal(valid, _plain(b.flow_valid))
        assert torch.equal(_plain(a.flow)[:, valid], _plain(b.flow)[:, valid])


def test_pycocotools_reads_the_export(tmp_path, pairs):
    export_scenes(pairs, tmp_path, WORLD_TABLES)
    coco = COCO(str(tmp_path / "annotations.json"))
    for scene in pairs:
        ann_ids = coco.getAnnIds(imgIds=[scene.image_id])
        anns = coco.loadAnns(ann_ids)
        assert len(anns) == len(scene.objects)
        for ann, box, mask in zip(anns, scene.objects.boxes, scene.objects.masks):
            x, y, w, h = ann["bbox"]
            assert [x, y, x + w, y + h] == box.tolist()
            assert np.array_equal(coco.annToMask(ann).astype(bool), mask.numpy())
    assert coco.loadCats(coco.getCatIds(catNms=["person"]))[0]["keypoints"] == list(WORLD_TABLES.keypoints)


def test_clip_folder_round_trip(tmp_path):
    clips = [render_clip(CFG, seed).replace(image_id=i) for i, seed in enumerate((1, 2))]
    export_clips(clips, tmp_path, WORLD_TABLES)
    back = ClipFolder(tmp_path)
    assert back.actions == list(WORLD_TABLES.actions)
    for a, b in zip(clips, back):
        assert torch.equal(_plain(a.video), _plain(b.video))
        assert a.action == b.action
        for fa, fb in zip(a.frame_objects, b.frame_objects):
            assert torch.equal(fa.ids, fb.ids)
            assert torch.equal(_plain(fa.boxes), _plain(fb.boxes))


def test_mot_lines_by_hand(tmp_path):
    clip = render_clip(CFG, 7)
    text = mot_lines(clip.frame_objects[:1])
    first = text.splitlines()[0].split(",")
    box = clip.frame_objects[0].boxes[0].tolist()
    assert first[0] == "1" and float(first[2]) == box[0] and float(first[4]) == box[2] - box[0]
    (tmp_path / "gt.txt").write_text(text)
    objs = read_mot(tmp_path / "gt.txt", 1, CFG.size)[0]
    assert torch.equal(_plain(objs.boxes), _plain(clip.frame_objects[0].boxes))


def test_malformed_clips_file_names_it(tmp_path):
    (tmp_path / "clips.json").write_text('{"actions": ["a"], "clips": [{"id": "x"}]}')
    with pytest.raises(ValueError, match=r"clips.json.*clips\[0\]"):
        ClipFolder(tmp_path)
