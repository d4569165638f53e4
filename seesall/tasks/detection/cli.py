"""Command-line entry points of the detection task.

``seesall eval detection --gt annotations.json --pred detections.json
[--out metrics.json] [--plot pr.png] [--iou-type bbox]``
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np

from seesall.io.atomic import write_bytes, write_json
from seesall.tasks.detection.coco_eval import run_cocoeval, stat_keys, summarize
from seesall.tasks.detection.coco_files import load_coco_gt, load_coco_results


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="COCO ground-truth annotations (JSON)")
    parser.add_argument("--pred", required=True, help="COCO results file (JSON list)")
    parser.add_argument("--out", default=None, help="write the metrics to this JSON file")
    parser.add_argument("--plot", default=None, help="write a precision-recall plot (PNG)")
    parser.add_argument("--iou-type", default="bbox", choices=("bbox", "segm", "keypoints"))
    parser.add_argument("--engine", default="auto", choices=("auto", "faster", "pycocotools"),
                        help="COCOeval implementation (both give identical numbers)")


def evaluate(args: argparse.Namespace) -> int:
    gt = load_coco_gt(args.gt, args.iou_type)
    results = load_coco_results(args.pred, gt, args.iou_type)
    ev = run_cocoeval(gt, results, iou_type=args.iou_type, engine=args.engine)
    metrics = summarize(ev, gt, args.iou_type)
    for key in stat_keys(args.iou_type):
        print(f"{key:>6s} {metrics[key]:.4f}")
    if args.out:
        write_json(args.out, metrics, indent=2)
    if args.plot:
        plot_precision_recall(np.asarray(ev.eval["precision"]), args.plot)
    return 0


def plot_precision_recall(precision: np.ndarray, path: str | Path) -> None:
    """Precision-recall curves at IoU .50, .75 and averaged over .50:.95.

    Args:
        precision: COCOeval's ``eval["precision"]``, array (T=10, R=101, K, A, M); the
            curves use all areas (A=0), 100 detections (M=-1), averaged over classes
            that have ground truth.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recall = np.linspace(0.0, 1.0, precision.shape[1])
    fig, ax = plt.subplots(figsize=(5, 4))
    curves: dict[str, Any] = {"IoU=.50": precision[0], "IoU=.75": precision[5],
                              "IoU=.50:.95": None}
    for label, p in curves.items():
        p = precision if p is None else p[None]
        p = p[..., 0, -1]  # (T, R, K)
        p = np.where(p > -1, p, np.nan)
        valid = ~np.all(np.isnan(p), axis=(0, 1))
        if not valid.any():
            continue
        mean = np.nanmean(np.nanmean(p[..., valid], axis=2), axis=0)  # (R,)
        ax.plot(recall, mean, label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    write_bytes(path, buf.getvalue())
