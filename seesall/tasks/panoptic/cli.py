"""``seesall eval panoptic``: PQ/SQ/RQ on COCO panoptic-format files.

Ground truth and predictions are each a JSON file (``annotations``: one entry per image
with ``file_name`` of its PNG and ``segments_info`` [{id, category_id, iscrowd}];
``categories`` [{id, isthing}] in the ground truth) and a folder of PNGs whose colour
encodes the segment id as R + 256·G + 256²·B (0 = void), as panopticapi writes them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seesall.io.atomic import write_json
from seesall.tasks.panoptic.merge import Segment
from seesall.tasks.panoptic.metrics import PanopticQuality


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth panoptic JSON")
    parser.add_argument("--gt-dir", required=True, type=Path, help="ground-truth PNG folder")
    parser.add_argument("--pred", required=True, type=Path, help="predicted panoptic JSON")
    parser.add_argument("--pred-dir", required=True, type=Path, help="predicted PNG folder")
    parser.add_argument("--out", type=Path, default=None, help="write metrics JSON here")


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """uint8[H, W, 3] -> int64[H, W] segment ids (R + 256 G + 256² B)."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """int64[H, W] segment ids -> uint8[H, W, 3]."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"panoptic JSON not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: needs an 'annotations' list")
    return data


def _segments(ann: dict, where: str) -> list[Segment]:
    try:
        return [Segment(int(s["id"]), int(s["category_id"]), False, 1.0,
                        bool(s.get("iscrowd", 0))) for s in ann["segments_info"]]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: bad segments_info ({e})") from None


def _read_png(path: Path) -> torch.Tensor:
    if not path.is_file():
        raise FileNotFoundError(f"panoptic PNG not found: {path}")
    with Image.open(path) as im:
        return torch.from_numpy(rgb_to_id(np.asarray(im.convert("RGB"))))


def evaluate_files(gt_json: Path, gt_dir: Path, pred_json: Path, pred_dir: Path
                   ) -> dict[str, Any]:
    gt, pred = _read_json(gt_json), _read_json(pred_json)
    try:
        cats = {int(c["id"]): bool(c["isthing"]) for c in gt["categories"]}
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{gt_json}: 'categories' needs id and isthing per entry") from None
    pred_by_image = {a.get("image_id"): a for a in pred["annotations"]}
    pq = PanopticQuality(cats)
    for i, g in enumerate(gt["annotations"]):
        where = f"{gt_json}: annotations[{i}]"
        p = pred_by_image.get(g.get("image_id"))
        if p is None:
            raise ValueError(f"{pred_json}: no prediction for image_id {g.get('image_id')}")
        try:
            pq.update(_read_png(gt_dir / g["file_name"]), _segments(g, where),
                      _read_png(pred_dir / p["file_name"]),
                      _segments(p, f"{pred_json} image {g['image_id']}"))
        except ValueError as e:
            raise ValueError(f"image {g.get('image_id')}: {e}") from None
    out = pq.compute()
    out["per_class"] = {str(k): v for k, v in out["per_class"].items()}
    return out


def evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_files(args.gt, args.gt_dir, args.pred, args.pred_dir)
    print(" ".join(f"{k} {metrics[k]:.4f}" for k in ("PQ", "SQ", "RQ", "PQ_th", "PQ_st")))
    if args.out is not None:
        write_json(args.out, metrics, indent=2)
    return 0
