"""COCO evaluation against pycocotools' COCOeval run directly on the same data."""

from __future__ import annotations

import contextlib
import copy
import io
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torchvision import tv_tensors

from seesall.cli.main import main
from seesall.structures import Objects, Scene
from seesall.tasks.detection.coco_eval import DET_STAT_KEYS, CocoEvaluator, evaluate_coco


def reference(gt: dict, dets: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' stats and per-class AP (IoU .50:.95, all areas, 100 dets)."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if dets:
            coco_dt = coco_gt.loadRes(copy.deepcopy(dets))
        else:
            coco_dt = COCO()
            coco_dt.dataset = {"images": gt["images"], "annotations": [],
                               "categories": gt["categories"]}
            coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    prec = ev.eval["precision"][:, :, :, 0, -1]
    per_class = []
    for k in range(prec.shape[2]):
        p = prec[:, :, k]
        p = p[p > -1]
        per_class.append(p.mean() if p.size else -1.0)
    return np.asarray(ev.stats), np.asarray(per_class)


def random_case(rng: np.random.Generator, n_images: int = 6, n_cats: int = 4,
                crowd: bool = True) -> tuple[dict, list[dict]]:
    images = [{"id": i + 1, "width": 200, "height": 160} for i in range(n_images)]
    cats = [{"id": c + 1, "name": f"c{c}"} for c in range(n_cats)]
    anns, dets = [], []
    for img in images:
        if rng.random() < 0.2:  # an image without annotations
            n_gt = 0
        else:
            n_gt = int(rng.integers(1, 8))
        gts = []
        for _ in range(n_gt):
            w, h = rng.uniform(3, 120, size=2)
            x, y = rng.uniform(0, 200 - w), rng.uniform(0, 160 - h)
            # only a few categories per image, so that some are absent
            cat = int(rng.integers(1, max(2, n_cats // 2) + 1))
            iscrowd = int(crowd and rng.random() < 0.15)
            gts.append((x, y, w, h, cat))
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat,
                         "bbox": [x, y, w, h], "area": w * h * rng.uniform(0.6, 1.0),
                         "iscrowd": iscrowd})
        if rng.random() < 0.15:  # an image without detections
            continue
        for x, y, w, h, cat in gts:  # noisy copies of the ground truth
            if rng.random() < 0.8:
                j = rng.normal(0, 0.1 * max(w, h), size=4)
                c = cat if rng.random() < 0.85 else int(rng.integers(1, n_cats + 1))
                dets.append({"image_id": img["id"], "category_id": c,
                             "bbox": [x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])],
                             "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 6))):  # false positives
            w, h = rng.uniform(3, 100, size=2)
            dets.append({"image_id": img["id"], "category_id": int(rng.integers(1, n_cats + 1)),
                         "bbox": [rng.uniform(0, 150), rng.uniform(0, 120), w, h],
                         "score": float(rng.random())})
    return {"images": images, "annotations": anns, "categories": cats}, dets


def assert_agrees(ours: dict, ref_stats: np.ndarray, ref_per_class: np.ndarray) -> None:
    got = np.array([ours[k] for k in DET_STAT_KEYS])
    np.testing.assert_allclose(got, ref_stats, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.array(list(ours["per_class"].values())), ref_per_class,
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("engine", ["faster", "pycocotools"])
@pytest.mark.parametrize("seed", range(6))
def test_random_cases_agree_with_pycocotools(seed: int, engine: str) -> None:
    gt, dets = random_case(np.random.default_rng(seed), n_images=4 + seed, n_cats=2 + seed % 4)
    stats, per_class = reference(gt, dets)
    assert_agrees(evaluate_coco(gt, dets, engine=engine), stats, per_class)


def test_edge_cases() -> None:
    rng = np.random.default_rng(123)
    gt, dets = random_case(rng, n_images=5, n_cats=3)
    # no detections at all
    assert_agrees(evaluate_coco(gt, []), *reference(gt, []))
    # a category that has no ground truth anywhere, detections for it
    gt2 = copy.deepcopy(gt)
    gt2["categories"].append({"id": 99, "name": "absent"})
    dets2 = dets + [{"image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5], "score": 0.9}]
    ours = evaluate_coco(gt2, dets2)
    assert_agrees(ours, *reference(gt2, dets2))
    assert ours["per_class"]["absent"] == -1.0
    # only crowd annotations in one image, with detections on them
    gt3 = {"images": [{"id": 1, "width": 50, "height": 50}],
           "categories": [{"id": 1, "name": "a"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 40],
                            "area": 1600, "iscrowd": 1},
                           {"id": 2, "image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10],
                            "area": 100, "iscrowd": 0}]}
    dets3 = [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 30, 30], "score": 0.8},
             {"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 11], "score": 0.7}]
    assert_agrees(evaluate_coco(gt3, dets3), *reference(gt3, dets3))


def _scene(image_id: int, boxes: list[list[float]], labels: list[int]) -> Scene:
    xyxy = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    objs = Objects(labels=torch.tensor(labels, dtype=torch.int64),
                   boxes=tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(64, 80)))
    return Scene(image=tv_tensors.Image(torch.zeros(3, 64, 80, dtype=torch.uint8)),
                 objects=objs, image_id=image_id)


def test_evaluator_on_scenes_matches_reference() -> None:
    scenes = [_scene(1, [[1, 2, 30, 40], [40, 10, 70, 30]], [0, 1]), _scene(2, [], [])]
    preds = [_scene(1, [[2, 2, 30, 38], [0, 0, 10, 10]], [0, 1]).objects,
             _scene(2, [[5, 5, 20, 20]], [2]).objects]
    preds = [p.replace(scores=torch.tensor([0.9, 0.5][: len(p)])) for p in preds]
    ev = CocoEvaluator(categories=["a", "b", "c"])
    ev.update(scenes[:1], preds[:1])
    ev.update(scenes[1:], preds[1:])
    ours = ev.compute()
    assert_agrees(ours, *reference(ev.coco_gt(), ev.coco_results()))
    assert ours["AP50"] == pytest.approx(0.5)  # class a found, class b missed
    ev.reset()
    with pytest.raises(ValueError, match="scores"):
        ev.update(scenes[:1], [scenes[0].objects])


def test_cli(tmp_path, capsys) -> None:
    gt, dets = random_case(np.random.default_rng(7))
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(dets))
    rc = main(["eval", "detection", "--gt", str(tmp_path / "gt.json"), "--pred",
               str(tmp_path / "dt.json"), "--out", str(tmp_path / "m.json"),
               "--plot", str(tmp_path / "pr.png")])
    assert rc == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert list(metrics)[:12] == list(DET_STAT_KEYS)
    assert_agrees(metrics, *reference(gt, dets))
    assert (tmp_path / "pr.png").stat().st_size > 1000
    bad = copy.deepcopy(dets)
    bad[2]["bbox"] = [1, 2, 3]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    rc = main(["eval", "detection", "--gt", str(tmp_path / "gt.json"), "--pred",
               str(tmp_path / "bad.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "bad.json" in err[0] and "[2].bbox" in err[0]


def test_merged_states_equal_one_evaluator() -> None:
    """Two 'processes' each number annotations from 1; merging must renumber them."""
    import torch
    from torchvision import tv_tensors

    from seesall.structures import Objects, Scene
    from seesall.tasks.detection.coco_eval import CocoEvaluator

    def scene(i: int, boxes: list[list[float]]) -> Scene:
        b = tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32), format="XYXY", canvas_size=(64, 64))
        return Scene(image=tv_tensors.Image(torch.zeros(3, 64, 64, dtype=torch.uint8)), image_id=i,
                     objects=Objects(labels=torch.zeros(len(boxes), dtype=torch.int64), boxes=b))

    def pred(s: Scene, shift: float) -> Objects:
        b = s.objects.boxes.as_subclass(torch.Tensor) + shift
        return s.objects.replace(boxes=tv_tensors.BoundingBoxes(b.clamp(0, 64), format="XYXY", canvas_size=(64, 64)),
                                 scores=torch.linspace(0.9, 0.5, len(b)))

    scenes = [scene(1, [[0, 0, 10, 10], [20, 20, 40, 40]]), scene(2, [[5, 5, 30, 30], [40, 40, 60, 60]])]
    preds = [pred(scenes[0], 1.0), pred(scenes[1], 6.0)]
    whole = CocoEvaluator(categories=["a"])
    whole.update(scenes, preds)
    parts = [CocoEvaluator(categories=["a"]) for _ in range(2)]
    for p, s, d in zip(parts, scenes, preds, strict=True):
        p.update([s], [d])
    merged = CocoEvaluator(categories=["a"])
    merged.merge([p.state() for p in parts])
    expected, got = whole.compute(), merged.compute()
    assert {k: v for k, v in got.items() if k != "per_class"} == pytest.approx(
        {k: v for k, v in expected.items() if k != "per_class"}, abs=1e-12)
