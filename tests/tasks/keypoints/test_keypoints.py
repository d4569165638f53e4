"""Keypoint heatmap targets/decoding by hand, OKS and keypoint AP against pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from seesall.cli.main import main
from seesall.tasks.keypoints.head import decode_heatmaps, keypoint_loss, keypoint_targets
from seesall.tasks.keypoints.metrics import SYNTHETIC_PERSON_SIGMAS, oks


def test_heatmap_targets_by_hand() -> None:
    rois = torch.tensor([[10.0, 20.0, 38.0, 48.0]])  # 28×28 box, M = 56: 2 cells per pixel
    kps = torch.tensor([[[10.0, 20.0], [24.3, 30.0], [38.0, 30.0], [12.0, 22.0]]])
    vis = torch.tensor([[2, 1, 2, 0]], dtype=torch.uint8)
    idx, valid = keypoint_targets(kps, vis, rois, 56)
    # (0, 0); x 14.3 px -> cell 28, y 10 px -> cell 20; x on the right edge -> outside;
    # the last one is unlabelled
    assert valid.tolist() == [[True, True, False, False]]
    assert idx[0, 0] == 0 and idx[0, 1] == 20 * 56 + 28


def test_decode_inverts_the_target_cell_centre() -> None:
    rois = torch.tensor([[10.0, 20.0, 38.0, 48.0]])
    logits = torch.zeros(1, 2, 56, 56)
    logits[0, 0, 20, 28] = 5.0
    logits[0, 1, 0, 55] = 3.0
    xy, score = decode_heatmaps(logits, rois)
    torch.testing.assert_close(xy[0], torch.tensor([[10 + 28.5 / 2, 20 + 20.5 / 2],
                                                    [10 + 55.5 / 2, 20 + 0.5 / 2]]))
    assert score.tolist() == [[5.0, 3.0]]


def test_keypoint_loss_ignores_unlabelled_keypoints() -> None:
    rois = torch.tensor([[0.0, 0.0, 56.0, 56.0]])
    kps = torch.tensor([[[3.2, 5.9], [40.0, 40.0]]])
    logits = torch.randn(1, 2, 56, 56, requires_grad=True)
    loss = keypoint_loss(logits, kps, torch.tensor([[2, 0]], dtype=torch.uint8), rois)
    expected = torch.nn.functional.cross_entropy(logits[0, 0].reshape(1, -1),
                                                 torch.tensor([5 * 56 + 3]))
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    assert logits.grad[0, 1].abs().sum() == 0 and logits.grad[0, 0].abs().sum() > 0


def _coco_kp(pts: np.ndarray, vis: np.ndarray) -> list[float]:
    return [float(v) for p, f in zip(pts, vis, strict=True) for v in (p[0], p[1], f)]


def _random_keypoint_data(seed: int, k: int = 13) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for img in range(1, 5):
        images.append({"id": img, "height": 200, "width": 200})
        for _ in range(rng.integers(0, 4)):
            x, y, w, h = rng.uniform(0, 100), rng.uniform(0, 100), rng.uniform(10, 90), \
                rng.uniform(10, 90)
            pts = np.stack([rng.uniform(x, x + w, k), rng.uniform(y, y + h, k)], 1)
            vis = rng.integers(0, 3, k) * (rng.random() > 0.15)
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": 1, "iscrowd": 0,
                         "bbox": [x, y, w, h], "area": float(w * h * rng.uniform(0.3, 1.0)),
                         "keypoints": _coco_kp(pts, vis), "num_keypoints": int((vis > 0).sum())})
            for _ in range(rng.integers(0, 3)):
                noisy = pts + rng.normal(0, rng.uniform(0.5, 8), pts.shape)
                results.append({"image_id": img, "category_id": 1, "score": float(rng.random()),
                                "keypoints": _coco_kp(noisy, np.full(k, 2))})
        if rng.random() < 0.5:  # a false positive far away
            fp = rng.uniform(0, 200, (k, 2))
            results.append({"image_id": img, "category_id": 1, "score": float(rng.random()),
                            "keypoints": _coco_kp(fp, np.full(k, 2))})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person"}]}
    return gt, results


def _pycocotools_kp(gt: dict, results: list[dict], sigmas) -> COCOeval:
    with contextlib.redirect_stdout(io.StringIO()):
        c = COCO()
        c.dataset = json.loads(json.dumps(gt))
        c.createIndex()
        d = c.loadRes(json.loads(json.dumps(results)))
        ev = COCOeval(c, d, "keypoints")
        ev.params.kpt_oks_sigmas = np.array(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("seed", range(3))
def test_oks_matches_pycocotools(seed: int) -> None:
    gt, results = _random_keypoint_data(seed)
    ev = _pycocotools_kp(gt, results, SYNTHETIC_PERSON_SIGMAS)
    checked = 0
    for img in range(1, 5):
        gts = [a for a in gt["annotations"] if a["image_id"] == img]
        dts = sorted([r for r in results if r["image_id"] == img], key=lambda r: -r["score"])
        if not gts or not dts:
            continue
        g = torch.tensor([a["keypoints"] for a in gts], dtype=torch.float64).view(len(gts), -1, 3)
        p = torch.tensor([r["keypoints"] for r in dts], dtype=torch.float64).view(len(dts), -1, 3)
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                               a["bbox"][1] + a["bbox"][3]] for a in gts], dtype=torch.float64)
        got = oks(p[..., :2].double(), g[..., :2].double(), g[..., 2], torch.tensor(
            [a["area"] for a in gts], dtype=torch.float64), boxes, SYNTHETIC_PERSON_SIGMAS)
        np.testing.assert_allclose(got.numpy(), ev.ious[(img, 1)], rtol=0, atol=1e-12)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("seed", range(3))
def test_eval_keypoints_cli_equals_pycocotools(tmp_path: Path, seed: int) -> None:
    gt, results = _random_keypoint_data(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    out = tmp_path / "m.json"
    assert main(["eval", "keypoints", "--gt", str(tmp_path / "gt.json"), "--pred",
                 str(tmp_path / "pred.json"), "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    ref = _pycocotools_kp(gt, results, SYNTHETIC_PERSON_SIGMAS).stats
    keys = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    np.testing.assert_allclose([m[k] for k in keys], ref, rtol=0, atol=1e-9)


def test_eval_keypoints_cli_rejects_wrong_sigma_count(tmp_path: Path) -> None:
    gt, results = _random_keypoint_data(0)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    assert main(["eval", "keypoints", "--gt", str(tmp_path / "gt.json"), "--pred",
                 str(tmp_path / "pred.json"), "--sigmas", "0.1,0.2"]) == 2


def test_keypoint_evaluator_on_world_scenes_equals_pycocotools() -> None:
    from seesall.tasks.keypoints.metrics import KeypointEvaluator
    from seesall.world import WorldConfig, render_scene

    cfg = WorldConfig(size=(96, 96), num_objects=(2, 5), classes=("person", "circle"))
    scenes = [render_scene(cfg, s) for s in range(6)]
    g = torch.Generator().manual_seed(0)
    preds = []
    for s in scenes:
        o = s.objects
        noisy = o.keypoints.as_subclass(torch.Tensor) + torch.randn(
            o.keypoints.shape, generator=g) * 0.5
        preds.append(o.replace(keypoints=type(o.keypoints)(noisy, canvas_size=s.size),
                               scores=torch.rand(len(o), generator=g)))
    person = 7
    ev = KeypointEvaluator(classes=[person], class_names=["person"],
                           sigmas=SYNTHETIC_PERSON_SIGMAS)
    ev.update(scenes, preds)
    got = ev.compute()
    images, anns, results = [], [], []
    for s, p in zip(scenes, preds, strict=True):
        images.append({"id": s.image_id, "height": 96, "width": 96})
        for i in range(len(s.objects)):
            if int(s.objects.labels[i]) != person:
                continue
            b = s.objects.boxes[i].tolist()
            vis = s.objects.visibility[i].numpy()
            anns.append({"id": len(anns) + 1, "image_id": s.image_id, "category_id": 1,
                         "iscrowd": 0, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                         "area": float(s.objects.masks[i].sum()),
                         "keypoints": _coco_kp(s.objects.keypoints[i].numpy(), vis),
                         "num_keypoints": int((vis > 0).sum())})
            results.append({"image_id": s.image_id, "category_id": 1,
                            "score": float(p.scores[i]),
                            "keypoints": _coco_kp(p.keypoints[i].numpy(), vis * 0 + 2)})
    assert anns, "the scenes should hold persons"
    gt = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    ref = _pycocotools_kp(gt, results, SYNTHETIC_PERSON_SIGMAS).stats
    keys = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    np.testing.assert_allclose([got[k] for k in keys], ref, rtol=0, atol=1e-9)
    assert got["AP"] > 0.3


@pytest.mark.parametrize("engine", ["faster", "pycocotools"])
@pytest.mark.parametrize("seed", range(3))
def test_run_cocoeval_with_13_sigmas_equals_pycocotools(seed: int, engine: str) -> None:
    from seesall.tasks.keypoints.metrics import evaluate_keypoints

    gt, results = _random_keypoint_data(seed + 10)
    got = evaluate_keypoints(gt, results, SYNTHETIC_PERSON_SIGMAS, engine=engine)
    ref = _pycocotools_kp(gt, results, SYNTHETIC_PERSON_SIGMAS).stats
    keys = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    np.testing.assert_allclose([got[k] for k in keys], ref, rtol=0, atol=1e-9)


def test_keypoint_sigmas_only_for_keypoint_evaluation() -> None:
    from seesall.tasks.detection.coco_eval import CocoEvaluator, run_cocoeval

    with pytest.raises(ValueError, match="kpt_oks_sigmas"):
        run_cocoeval({"images": [], "annotations": [], "categories": []}, [], iou_type="bbox",
                     kpt_oks_sigmas=SYNTHETIC_PERSON_SIGMAS)
    with pytest.raises(ValueError, match="kpt_oks_sigmas"):
        CocoEvaluator(categories=["person"], iou_type="segm", kpt_oks_sigmas=(0.1,))
