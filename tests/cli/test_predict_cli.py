"""``seesall predict`` on semantic, instance and keypoints checkpoints: a 2-step run each,
then overlays, label PNGs and COCO results that pycocotools' ``loadRes`` and
``seesall eval`` read."""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

from seesall.cli.main import main
from seesall.io.coco import scenes_to_coco
from seesall.viz.layout import save_png
from seesall.world import PERSON_KEYPOINTS, PERSON_SKELETON, SEMANTIC_CLASSES, THING_CLASSES, WorldConfig, render_scene

SIZE = 64
TRAIN = ["--image-size", str(SIZE), "--train-size", "2", "--val-size", "0", "--batch-size", "2",
         "--max-steps", "2", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """Two held-out world scenes with persons, written as PNGs (plus a non-image file)."""
    folder = tmp_path_factory.mktemp("images")
    cfg = WorldConfig(size=(SIZE, SIZE), num_objects=(2, 3), classes=("person", "circle"))
    scenes = [dataclasses.replace(render_scene(cfg, 1000 + i), image_id=i + 1, file_name=f"s{i}.png")
              for i in range(2)]
    for s in scenes:
        save_png(s.image.as_subclass(torch.Tensor), folder / s.file_name)
    (folder / "notes.txt").write_text("not an image")
    return folder, scenes


def _train(task: str, run: Path, *extra: str) -> None:
    assert main(["train", task, *TRAIN, *extra, "--out", str(run)]) == 0


def _load_res(gt: dict, results: list[dict]) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        return coco.loadRes(copy.deepcopy(results))


def _keypoint_results_of_every_class(run: Path, folder: Path, out: Path) -> list[dict]:
    from seesall.tasks.instance.cli import predict_objects
    from seesall.tasks.keypoints import recipe

    args = argparse.Namespace(checkpoint=str(run), input=str(folder), out=str(out), score_threshold=0.3)
    assert predict_objects(args, recipe, skeleton=PERSON_SKELETON) == 0
    return json.loads((out / "predictions.json").read_text())


def test_predict_semantic(tmp_path: Path, images: tuple[Path, list]) -> None:
    folder, scenes = images
    run, out = tmp_path / "run", tmp_path / "out"
    _train("semantic", run)
    assert main(["predict", str(run), str(folder), "--out", str(out), "--alpha", "0.6"]) == 0
    for s in scenes:
        stem = Path(s.file_name).stem
        overlay = np.asarray(Image.open(out / f"{stem}_pred.png"))
        labels = np.asarray(Image.open(out / "labels" / f"{stem}.png"))
        assert overlay.shape == (SIZE, SIZE, 3) and labels.shape == (SIZE, SIZE)
        assert labels.max() < len(SEMANTIC_CLASSES)
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    for s in scenes:
        Image.fromarray(s.semantic.numpy().astype(np.uint8)).save(gt_dir / s.file_name)
    metrics = tmp_path / "m.json"
    assert main(["eval", "semantic", "--gt", str(gt_dir), "--pred", str(out / "labels"),
                 "--num-classes", str(len(SEMANTIC_CLASSES)), "--out", str(metrics)]) == 0
    assert 0.0 <= json.loads(metrics.read_text())["pixel_accuracy"] <= 1.0


@pytest.mark.parametrize("task", ["instance", "keypoints"])
def test_predict_objects(tmp_path: Path, images: tuple[Path, list], task: str) -> None:
    folder, scenes = images
    run, out = tmp_path / "run", tmp_path / "out"
    _train(task, run)
    assert main(["predict", str(run), str(folder), "--out", str(out), "--score-threshold", "0"]) == 0
    for s in scenes:
        overlay = np.asarray(Image.open(out / f"{Path(s.file_name).stem}_pred.png"))
        assert overlay.shape == (SIZE, SIZE, 3)
    results = json.loads((out / "predictions.json").read_text())
    listed = json.loads((out / "images.json").read_text())
    assert [i["file_name"] for i in listed] == [s.file_name for s in scenes]
    person = THING_CLASSES.index("person")
    gt = scenes_to_coco(scenes, class_names=THING_CLASSES, keypoint_names=PERSON_KEYPOINTS,
                        keypoint_labels={person})
    if task == "keypoints":  # keypoint ground truth: the person category only
        gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] == person + 1]
    if task == "keypoints":
        # only persons go to the keypoint results; a 2-step model may detect none, so the
        # results of every class are written once more to check their format
        assert all(r["category_id"] == person + 1 for r in results)
        results = _keypoint_results_of_every_class(run, folder, tmp_path / "all")
    assert results, "an untrained detector still proposes objects"
    coco_dt = _load_res(gt, results)
    assert len(coco_dt.getAnnIds()) == len(results)
    key = "segmentation" if task == "instance" else "keypoints"
    assert all(key in r and r["image_id"] in (1, 2) for r in results)
    if task == "keypoints":
        assert all(len(r["keypoints"]) == 3 * len(PERSON_KEYPOINTS) for r in results)
    gt_file, metrics = tmp_path / "gt.json", tmp_path / "m.json"
    gt_file.write_text(json.dumps(gt))
    assert main(["eval", task, "--gt", str(gt_file), "--pred", str(out / "predictions.json"),
                 "--out", str(metrics)]) == 0
    assert "AP" in json.loads(metrics.read_text())


def test_predict_errors_exit_2(tmp_path: Path, images: tuple[Path, list],
                               capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = images
    run = tmp_path / "run"
    _train("semantic", run, "--max-steps", "1")
    assert main(["predict", str(run), "--out", str(tmp_path / "o")]) == 2  # no INPUT
    assert main(["predict", str(run), str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2
    assert main(["predict", str(tmp_path / "nowhere"), str(folder), "--out", str(tmp_path / "o")]) == 2
    meta = run / "checkpoints" / "last" / "meta.json"
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "task": "telepathy"}))  # no such task
    assert main(["predict", str(run), str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "'telepathy'" in capsys.readouterr().err
    from seesall.engine.run import load_trained_model
    from seesall.tasks.instance import recipe

    meta.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not instance"):
        load_trained_model(run, recipe)
