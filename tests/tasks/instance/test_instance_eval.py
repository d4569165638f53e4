"""``seesall eval instance`` (mask AP) against pycocotools run directly."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from seesall.cli.main import main


def _rle(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode("ascii")
    return r


def _blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    cy, cx = rng.uniform(5, h - 5), rng.uniform(5, w - 5)
    ry, rx = rng.uniform(3, 20), rng.uniform(3, 20)
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def _random_segm(seed: int) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for img in range(1, 6):
        images.append({"id": img, "height": 64, "width": 80})
        for _ in range(rng.integers(0, 5)):
            m = _blob(rng, 64, 80)
            cat = int(rng.integers(1, 4))
            x, y, w, h = mask_utils.toBbox(_rle_bytes(m)).tolist()
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": cat,
                         "iscrowd": int(rng.random() < 0.1), "bbox": [x, y, w, h],
                         "area": float(m.sum()), "segmentation": _rle(m)})
            for _ in range(rng.integers(0, 3)):
                pm = np.roll(m, int(rng.integers(-4, 5)), axis=int(rng.integers(0, 2)))
                results.append({"image_id": img, "category_id": cat if rng.random() < 0.8 else
                                int(rng.integers(1, 4)), "score": float(rng.random()),
                                "segmentation": _rle(pm)})
        for _ in range(rng.integers(0, 2)):
            results.append({"image_id": img, "category_id": int(rng.integers(1, 4)),
                            "score": float(rng.random()),
                            "segmentation": _rle(_blob(rng, 64, 80))})
    cats = [{"id": i, "name": f"c{i}"} for i in (1, 2, 3)]
    return {"images": images, "annotations": anns, "categories": cats}, results


def _rle_bytes(m: np.ndarray) -> dict:
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


@pytest.mark.parametrize("seed", range(3))
def test_eval_instance_equals_pycocotools(tmp_path: Path, seed: int) -> None:
    gt, results = _random_segm(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(results))
    out = tmp_path / "m.json"
    assert main(["eval", "instance", "--gt", str(tmp_path / "gt.json"), "--pred",
                 str(tmp_path / "pred.json"), "--out", str(out)]) == 0
    m = json.loads(out.read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        c = COCO()
        c.dataset = json.loads(json.dumps(gt))
        c.createIndex()
        ev = COCOeval(c, c.loadRes(json.loads(json.dumps(results))), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
            "ARl"]
    np.testing.assert_allclose([m[k] for k in keys], ev.stats, rtol=0, atol=1e-9)
