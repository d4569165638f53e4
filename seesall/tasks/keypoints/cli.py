"""``seesall eval keypoints``: COCO keypoint AP/AR with OKS sigmas for the dataset's skeleton."""

from __future__ import annotations

import argparse

from seesall.io.atomic import write_json
from seesall.tasks.detection.coco_eval import KPT_STAT_KEYS
from seesall.tasks.detection.coco_files import load_coco_gt, load_coco_results
from seesall.tasks.keypoints.metrics import default_sigmas, evaluate_keypoints


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="COCO ground truth with keypoints (JSON)")
    parser.add_argument("--pred", required=True, help="COCO keypoint results (JSON list)")
    parser.add_argument("--out", default=None, help="write the metrics to this JSON file")
    parser.add_argument("--sigmas", default=None,
                        help="comma-separated per-keypoint OKS sigmas (default: COCO's for "
                             "17 keypoints, the synthetic person's for 13)")


def _parse_sigmas(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--sigmas must be comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"--sigmas must be positive, got {text!r}")
    return values


def _num_keypoints(gt: dict, path: str) -> int:
    counts = {len(a["keypoints"]) // 3 for a in gt["annotations"]}
    if len(counts) > 1:
        raise ValueError(f"{path}: annotations have different keypoint counts {sorted(counts)}")
    return counts.pop() if counts else 0


def evaluate(args: argparse.Namespace) -> int:
    gt = load_coco_gt(args.gt, "keypoints")
    results = load_coco_results(args.pred, gt, "keypoints")
    k = _num_keypoints(gt, args.gt)
    sigmas = _parse_sigmas(args.sigmas) if args.sigmas else default_sigmas(k)
    if k and len(sigmas) != k:
        raise ValueError(f"--sigmas has {len(sigmas)} values, {args.gt} has {k} keypoints")
    for i, r in enumerate(results):
        if len(r["keypoints"]) != 3 * len(sigmas):
            raise ValueError(f"{args.pred}: result {i} has {len(r['keypoints']) // 3} keypoints, "
                             f"expected {len(sigmas)}")
    metrics = evaluate_keypoints(gt, results, sigmas)
    for key in KPT_STAT_KEYS:
        print(f"{key:>4s} {metrics[key]:.4f}")
    if args.out:
        write_json(args.out, {**metrics, "sigmas": list(sigmas)}, indent=2)
    return 0


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on a keypoints checkpoint: skeleton overlays (every detected
    object drawn) and COCO keypoint results of the person class."""
    from seesall.tasks.instance.cli import predict_objects
    from seesall.tasks.keypoints import recipe
    from seesall.world import PERSON_SKELETON

    return predict_objects(args, recipe, skeleton=PERSON_SKELETON, keep_classes=(recipe.PERSON,))
