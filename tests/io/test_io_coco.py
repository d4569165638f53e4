"""COCO export read by pycocotools (the reference), our reader, results through COCOeval."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torchvision import tv_tensors

from seesall.io.coco import CocoDataset, read_coco_results, write_coco, write_coco_results
from seesall.structures import Objects, Scene

CLASS_NAMES = ["disc", "box", "person"]
KEYPOINT_NAMES = ["head", "hip", "foot"]
SKELETON = [(0, 1), (1, 2)]


def _write(tmp_path: Path, scenes: list[Scene], mask_format: str = "rle") -> Path:
    write_coco(tmp_path / "annotations.json", scenes, images_dir=tmp_path / "images",
               class_names=CLASS_NAMES, mask_format=mask_format,
               keypoint_names=KEYPOINT_NAMES, skeleton=SKELETON, keypoint_labels=[2])
    return tmp_path / "annotations.json"


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_pycocotools_reads_rle_export_exactly(tmp_path: Path, make_scene, scene: Scene) -> None:
    coco = _coco(_write(tmp_path, [scene, make_scene(1, image_id=7)]))
    ann_ids = coco.getAnnIds(imgIds=[scene.image_id])
    assert len(ann_ids) == 3
    anns = coco.loadAnns(ann_ids)
    masks = scene.objects.masks.numpy()
    boxes = scene.objects.boxes.numpy()
    for i, ann in enumerate(anns):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), masks[i])
        x1, y1, x2, y2 = boxes[i].tolist()
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        assert ann["area"] == masks[i].sum()
        assert ann["category_id"] == i + 1 and ann["iscrowd"] == 0
    person = anns[2]
    assert person["keypoints"] == [7.5, 27.25, 2, 8.0, 31.5, 1, 6.0, 36.75, 2]
    assert person["num_keypoints"] == 3 and "keypoints" not in anns[0]
    cat = coco.loadCats([3])[0]
    assert cat["keypoints"] == KEYPOINT_NAMES and cat["skeleton"] == [[1, 2], [2, 3]]
    assert coco.getAnnIds(imgIds=[7]) == [4, 5, 6]  # ids from 1, running over images


def test_pycocotools_reads_polygon_export(tmp_path: Path, scene: Scene) -> None:
    coco = _coco(_write(tmp_path, [scene], mask_format="polygon"))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[scene.image_id]))
    masks = scene.objects.masks.numpy()
    assert all(isinstance(a["segmentation"], list) for a in anns)
    # Pixel-edge polygons rasterise back exactly, the ring's hole too (a keyhole cut).
    for i, ann in enumerate(anns):
        assert _iou(coco.annToMask(ann).astype(bool), masks[i]) == 1.0
    assert len(anns[1]["segmentation"]) == 1  # one polygon for the ring
    # OpenCV's polygon filler (another rasteriser) also leaves the hole empty.
    ring = np.zeros(masks[1].shape, np.uint8)
    pts = (np.array(anns[1]["segmentation"][0]).reshape(-1, 2) - 0.5) * 16
    cv2.fillPoly(ring, [np.round(pts).astype(np.int32)], 1, shift=4)
    assert _iou(ring.astype(bool), masks[1]) > 0.9 and not ring[24, 38]


def test_round_trip_through_our_reader(tmp_path: Path, make_scene, scene: Scene) -> None:
    other = Scene(image=tv_tensors.Image(torch.zeros(3, 30, 20, dtype=torch.uint8)),
                  objects=Objects.empty((30, 20)), image_id=4)  # an image without objects
    ds = CocoDataset(_write(tmp_path, [scene, other]).parent)
    assert len(ds) == 2 and ds.class_names == CLASS_NAMES
    assert ds.keypoint_names == KEYPOINT_NAMES and ds.skeleton == SKELETON
    got = ds[0]
    assert got.image_id == 1 and got.file_name == "img_1.png"
    assert torch.equal(got.image, scene.image)
    for field in ("labels", "boxes", "masks", "keypoints", "visibility", "ids", "depth"):
        assert torch.equal(getattr(got.objects, field), getattr(scene.objects, field)), field
    empty = ds[1]
    assert len(empty.objects) == 0 and empty.size == (30, 20)
    assert empty.objects.masks.shape == (0, 30, 20)


def _hand_coco() -> dict:
    """Non-contiguous category ids, a crowd region in uncompressed RLE, an XYWH box."""
    h, w = 6, 5
    crowd = [3, 4, 2, 21]  # column-major runs (off, on, off, on) over the 6 x 5 = 30 pixels
    return {
        "images": [{"id": 10, "file_name": "a.png", "width": w, "height": h}],
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [1.0, 2.0, 2.5, 3.0],
             "segmentation": [[1, 2, 3.5, 2, 3.5, 5, 1, 5]], "area": 7.5, "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 3, "bbox": [0, 0, 5, 6], "area": 25,
             "segmentation": {"size": [h, w], "counts": crowd}, "iscrowd": 1},
            {"id": 3, "image_id": 10, "category_id": 3, "bbox": [4, 5, 3, 3], "area": 1,
             "iscrowd": 0},
        ],
    }


def test_hand_made_file_crowd_and_category_mapping(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")  # images are not read by .objects()/.crowd()
    (tmp_path / "ann.json").write_text(json.dumps(_hand_coco()))
    ds = CocoDataset(tmp_path / "ann.json")
    assert ds.category_ids == [3, 7] and ds.class_names == ["dog", "cat"]
    objs = ds.objects(0)
    assert objs.labels.tolist() == [1, 0] and objs.ids.tolist() == [1, 3]
    # XYWH -> XYXY, clipped to the 5 x 6 image.
    assert objs.boxes.tolist() == [[1.0, 2.0, 3.5, 5.0], [4.0, 5.0, 5.0, 6.0]]
    coco = _coco(tmp_path / "ann.json")
    anns = coco.loadAnns([1, 2])
    np.testing.assert_array_equal(objs.masks[0].numpy(), coco.annToMask(anns[0]).astype(bool))
    assert not objs.masks[1].any()  # no segmentation -> empty mask
    crowd = ds.crowd(0)
    assert crowd.labels.tolist() == [0] and crowd.ids.tolist() == [2]
    np.testing.assert_array_equal(crowd.masks[0].numpy(), coco.annToMask(anns[1]).astype(bool))


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c["annotations"][1].update(bbox=[1, 2, 3]),
     r"ann.json: annotations\[1\].bbox must have 4 numbers"),
    (lambda c: c["annotations"][0].update(bbox=[1, 2, -3, 4]),
     r"annotations\[0\].bbox must have a non-negative width"),
    (lambda c: c["annotations"][2].update(category_id=99),
     r"annotations\[2\].category_id 99 is not an id in categories"),
    (lambda c: c["annotations"][0].update(image_id=11),
     r"annotations\[0\].image_id 11 is not an id in images"),
    (lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3]]),
     r"annotations\[0\].segmentation\[0\] must be a polygon"),
    (lambda c: c["annotations"][1]["segmentation"].update(size=[5, 5]),
     r"annotations\[1\].segmentation.size must be the image's \[height, width\] \[6, 5\]"),
    (lambda c: c["annotations"][1]["segmentation"].update(counts=[3, 4]),
     r"annotations\[1\].segmentation.counts uncompressed RLE must be"),
    (lambda c: c["annotations"][0].update(keypoints=[1, 2, 2]),
     r"annotations\[0\].keypoints must have 3 \* 0 numbers"),
    (lambda c: c["images"][0].update(width=0), r"images\[0\].width must be a positive"),
    (lambda c: c["images"].append(dict(c["images"][0])), r"images\[1\].id 10 is repeated"),
    (lambda c: c.pop("categories"), r"ann.json: categories is missing"),
    (lambda c: c["categories"][0].update(skeleton=[[0, 1]]), r"categories\[0\].skeleton\[0\]"),
])
def test_malformed_files_name_the_field(tmp_path: Path, edit, message: str) -> None:
    coco = _hand_coco()
    edit(coco)
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    with pytest.raises(ValueError, match=message):
        CocoDataset(tmp_path / "ann.json")


def test_not_json_missing_file_and_wrong_image_size(tmp_path: Path, scene: Scene) -> None:
    (tmp_path / "bad.json").write_text("{ not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        CocoDataset(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="annotations.json"):
        CocoDataset(tmp_path)
    path = _write(tmp_path / "d", [scene])
    coco = json.loads(path.read_text())
    coco["images"][0]["width"] = 99
    coco["annotations"] = []
    path.write_text(json.dumps(coco))
    with pytest.raises(ValueError, match="img_1.png: image is 56x40 but annotations.json says"):
        CocoDataset(path)[0]


def _evaluate(gt: COCO, results: Path, iou_type: str) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(str(results)), iou_type)
        if iou_type == "keypoints":
            ev.params.catIds = [3]
            ev.params.kpt_oks_sigmas = np.full(3, 0.05)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def test_results_file_evaluates_to_perfect_ap(tmp_path: Path, make_scene) -> None:
    scenes = [make_scene(0, image_id=1), make_scene(1, image_id=2)]
    gt = _coco(_write(tmp_path, scenes))
    preds = [s.replace(objects=s.objects.replace(scores=torch.tensor([0.9, 0.8, 0.7])))
             for s in scenes]
    write_coco_results(tmp_path / "res.json", preds)
    res = json.loads((tmp_path / "res.json").read_text())
    assert len(res) == 6 and set(res[0]) == {"image_id", "category_id", "bbox", "score",
                                             "segmentation", "keypoints"}
    assert _evaluate(gt, tmp_path / "res.json", "bbox") == pytest.approx(1.0)
    assert _evaluate(gt, tmp_path / "res.json", "segm") == pytest.approx(1.0)
    assert _evaluate(gt, tmp_path / "res.json", "keypoints") == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"predictions\[0\] \(image_id 1\): objects.scores"):
        write_coco_results(tmp_path / "x.json", scenes)
    back = read_coco_results(tmp_path / "res.json", CocoDataset(tmp_path))
    assert sorted(back) == [1, 2]
    for pred in preds:
        got, want = back[pred.image_id], pred.objects
        for field in ("labels", "boxes", "masks", "scores", "visibility"):
            assert torch.equal(getattr(got, field), getattr(want, field)), field
        seen = want.visibility > 0
        assert torch.equal(got.keypoints[seen], want.keypoints[seen])


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r[0].update(category_id=12), r"res.json: results\[0\].category_id 12 is not"),
    (lambda r: r[1].update(image_id=5), r"results\[1\].image_id 5 is not an image"),
    (lambda r: r[2].update(score="high"), r"results\[2\].score must be a finite number"),
    (lambda r: r[0].update(bbox=[0, 0]), r"results\[0\].bbox must have 4 numbers"),
])
def test_bad_results_files(tmp_path: Path, make_scene, edit, message: str) -> None:
    scene = make_scene()
    _write(tmp_path, [scene])
    pred = scene.replace(objects=scene.objects.replace(scores=torch.ones(3)))
    results = write_coco_results(tmp_path / "res.json", [pred])
    edit(results)
    (tmp_path / "res.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=message):
        read_coco_results(tmp_path / "res.json", CocoDataset(tmp_path))


def test_unsafe_file_names_are_refused(tmp_path: Path, make_scene) -> None:
    for name in ("/etc/x.png", "../x.png"):
        scene = make_scene().replace(file_name=name)
        with pytest.raises(ValueError, match="must be a relative path inside the images"):
            _write(tmp_path, [scene])
    assert not (tmp_path / "x.png").exists()


def test_polygons_of_random_blobs_rasterise_exactly() -> None:
    """Blobs with holes, islands and corner contacts: pycocotools gives the pixels back."""
    from pycocotools import mask as mask_utils

    from seesall.io.coco_masks import mask_to_polygons

    rng = np.random.default_rng(0)
    for _ in range(60):
        mask = cv2.GaussianBlur(rng.random((30, 40)), (0, 0), 1.5) > 0.5
        polys = mask_to_polygons(mask)
        if not polys:
            assert not mask.any()
            continue
        back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 30, 40)))
        np.testing.assert_array_equal(back.astype(bool), mask)


def test_faster_coco_eval_reads_our_export(tmp_path: Path, make_scene) -> None:
    """A second, independent COCO implementation agrees on masks and boxes."""
    faster = pytest.importorskip("faster_coco_eval")
    scene = make_scene()
    path = _write(tmp_path, [scene], mask_format="polygon")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = faster.COCO(str(path))
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[scene.image_id]))
    for i, ann in enumerate(anns):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool),
                                      scene.objects.masks[i].numpy())
        x1, y1, x2, y2 = scene.objects.boxes[i].tolist()
        assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]


def test_failed_write_keeps_the_previous_file(tmp_path: Path, make_scene) -> None:
    path = _write(tmp_path, [make_scene()])
    before = path.read_bytes()
    bad = make_scene(image_id=2)
    bad = bad.replace(objects=bad.objects.replace(labels=torch.tensor([0, 1, 9])))
    with pytest.raises(ValueError, match=r"scenes\[0\].objects.labels\[2\] = 9"):
        _write(tmp_path, [bad])
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_undecodable_rle_names_the_annotation(tmp_path: Path) -> None:
    from pycocotools import mask as mask_utils

    coco = _hand_coco()
    big = mask_utils.encode(np.ones((30, 30), np.uint8, order="F"))["counts"].decode()
    coco["annotations"][0]["segmentation"] = {"size": [6, 5], "counts": big}  # 900 px in 30
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    ds = CocoDataset(tmp_path / "ann.json")
    with pytest.raises(ValueError, match=r"ann.json: annotation id 1 \(image 10\): undecodable"):
        ds.objects(0)
