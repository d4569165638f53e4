"""Training through the engine, bootstrapping, and seesall predict on a tiny run."""

from __future__ import annotations

import argparse
import json

import torch
from torchvision import tv_tensors

from seesall.cli.main import main
from seesall.structures import Objects
from seesall.tasks.detection import cli
from seesall.tasks.detection.bootstrap import bootstrap, false_positives
from seesall.tasks.detection.models import DETECTORS
from seesall.viz.layout import save_png
from seesall.world import THING_CLASSES, WorldConfig, render_scene
from seesall.world.dataset import WorldDataset


def _objs(boxes: list[list[float]], scores: list[float] | None = None) -> Objects:
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return Objects(labels=torch.zeros(len(b), dtype=torch.int64),
                   boxes=tv_tensors.BoundingBoxes(b, format="XYXY", canvas_size=(100, 100)),
                   scores=None if scores is None else torch.tensor(scores))


def test_false_positives_by_hand() -> None:
    gt = _objs([[0, 0, 10, 10]])
    pred = _objs([[0, 0, 10, 11], [50, 50, 60, 60], [0, 0, 20, 20], [70, 70, 80, 80]],
                 [0.9, 0.8, 0.7, 0.1])
    fps = false_positives(pred, gt, score_thresh=0.3)
    # IoU 10/11 >= .5 is a hit; (50..60) overlaps nothing; (0..20) has IoU .25; last too weak
    assert fps.tolist() == [[50, 50, 60, 60], [0, 0, 20, 20]]
    assert len(false_positives(pred, _objs([]), score_thresh=0.3)) == 3


def test_bootstrap_rounds_log_and_mine() -> None:
    torch.manual_seed(0)
    cfg = WorldConfig(size=(64, 64), num_objects=(1, 3))
    det = DETECTORS["faster_rcnn_small"](num_classes=len(THING_CLASSES))
    pools = [WorldDataset("scene", 2, cfg, seed=500 + 2 * r) for r in range(2)]
    logs, data, hard = bootstrap(det, train_set=WorldDataset("scene", 2, cfg), pools=pools,
                                 test_set=WorldDataset("scene", 2, cfg, seed=900),
                                 names=THING_CLASSES, steps=2, batch_size=2, lr=1e-3,
                                 score_thresh=0.0)
    assert [x.round for x in logs] == [0, 1, 2] and len(data) == 6
    assert set(hard) <= {500, 501, 502, 503}  # mined on unseen pool images only
    assert logs[0].false_positives > 0 and logs[0].mined_images == 2


def test_train_predict_eval_cli(tmp_path) -> None:
    run = tmp_path / "run"
    rc = main(["train", "detection", "--model", "retinanet_small", "--data", "world",
               "--image-size", "64", "--train-size", "4", "--val-size", "2", "--batch-size", "2",
               "--max-steps", "2", "--eval-every", "2", "--threads", "1", "--no-progress",
               "--cls-loss", "ohem", "--out", str(run)])
    assert rc == 0
    images = tmp_path / "images"
    images.mkdir()
    scene = render_scene(WorldConfig(size=(64, 64)), 7)
    save_png(scene.image.as_subclass(torch.Tensor), images / "a.png")
    out = tmp_path / "pred"
    p = argparse.ArgumentParser()
    cli.add_predict_args(p)
    assert cli.predict(p.parse_args([str(run), str(images), "--out", str(out)])) == 0
    assert (out / "a_pred.png").is_file()
    results = json.loads((out / "predictions.json").read_text())
    assert all(r["image_id"] == 1 and len(r["bbox"]) == 4 for r in results)
