"""``seesall eval semantic``: mIoU, pixel accuracy, per-class IoU and boundary IoU on label PNGs."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from seesall.io.atomic import write_json
from seesall.io.labels import read_label_png
from seesall.structures import IGNORE_INDEX
from seesall.tasks.semantic.metrics import SemanticMetric


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path, help="folder of ground-truth label PNGs")
    parser.add_argument("--pred", required=True, type=Path,
                        help="folder of predicted label PNGs (matched by file name)")
    parser.add_argument("--num-classes", required=True, type=int)
    parser.add_argument("--ignore-index", type=int, default=IGNORE_INDEX)
    parser.add_argument("--boundary-ratio", type=float, default=0.02,
                        help="boundary width as a fraction of the image diagonal")
    parser.add_argument("--out", type=Path, default=None, help="write metrics JSON here")


def evaluate_folders(gt_dir: Path, pred_dir: Path, num_classes: int, *,
                     ignore_index: int = IGNORE_INDEX, boundary_ratio: float = 0.02
                     ) -> dict[str, float | list[float]]:
    """Metrics over every ``*.png`` of ``gt_dir`` and the same-named file in ``pred_dir``."""
    for d, what in ((gt_dir, "--gt"), (pred_dir, "--pred")):
        if not d.is_dir():
            raise FileNotFoundError(f"{what} folder not found: {d}")
    gt_files = sorted(gt_dir.glob("*.png"))
    if not gt_files:
        raise ValueError(f"no *.png label files in {gt_dir}")
    metric = SemanticMetric(num_classes, ignore_index=ignore_index, boundary_ratio=boundary_ratio)
    for g in gt_files:
        p = pred_dir / g.name
        if not p.is_file():
            raise FileNotFoundError(f"prediction missing for {g.name}: {p}")
        gt, pred = read_label_png(g), read_label_png(p)
        if gt.shape != pred.shape:
            raise ValueError(f"{p}: size {pred.shape} differs from ground truth {gt.shape}")
        try:
            metric.update(torch.from_numpy(pred), torch.from_numpy(gt))
        except ValueError as e:
            raise ValueError(f"{g.name}: {e}") from None
    return metric.compute()


def evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_folders(args.gt, args.pred, args.num_classes,
                               ignore_index=args.ignore_index, boundary_ratio=args.boundary_ratio)
    json_ready = {k: ([None if math.isnan(x) else x for x in v] if isinstance(v, list)
                      else (None if math.isnan(v) else v)) for k, v in metrics.items()}
    if args.out is not None:
        write_json(args.out, json_ready)
    print(f"mIoU {metrics['mIoU']:.4f}  pixel_accuracy {metrics['pixel_accuracy']:.4f}  "
          f"boundary_iou {metrics['boundary_iou']:.4f}")
    return 0
