"""``seesall eval instance``: COCO mask AP (iouType segm), the same keys as detection."""

from __future__ import annotations

import argparse

from seesall.io.atomic import write_json
from seesall.tasks.detection.coco_eval import run_cocoeval, stat_keys, summarize
from seesall.tasks.detection.coco_files import load_coco_gt, load_coco_results


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="COCO ground truth with segmentations")
    parser.add_argument("--pred", required=True, help="COCO segm results (JSON list, RLE)")
    parser.add_argument("--out", default=None, help="write the metrics to this JSON file")
    parser.add_argument("--engine", default="auto", choices=("auto", "faster", "pycocotools"),
                        help="COCOeval implementation (both give identical numbers)")


def evaluate(args: argparse.Namespace) -> int:
    gt = load_coco_gt(args.gt, "segm")
    results = load_coco_results(args.pred, gt, "segm")
    metrics = summarize(run_cocoeval(gt, results, iou_type="segm", engine=args.engine), gt,
                        "segm")
    for key in stat_keys("segm"):
        print(f"{key:>6s} {metrics[key]:.4f}")
    if args.out:
        write_json(args.out, metrics, indent=2)
    return 0
