"""``seesall eval instance``: COCO mask AP (iouType segm), the same keys as detection."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


# ----------------------------------------------------------------------------------------
# seesall predict CHECKPOINT IMAGE|DIR --out DIR


def predict_objects(args: argparse.Namespace, recipe: Any, *,
                    skeleton: Sequence[tuple[int, int]] | None = None,
                    keep_classes: Sequence[int] | None = None) -> int:
    """Run a :class:`SegmenterModule` checkpoint of ``recipe`` on images.

    Writes ``<stem>_pred.png`` overlays (masks, boxes, ``skeleton`` keypoints; objects
    scoring at least ``--score-threshold``), ``predictions.json`` (COCO results of every
    object, or of ``keep_classes`` only; category id = label + 1) and ``images.json``.
    """
    import torch

    from seesall.engine.run import load_trained_model
    from seesall.io.coco import predictions_to_coco_results
    from seesall.structures import collate
    from seesall.tasks.detection.cli import image_record, image_scenes
    from seesall.tasks.instance.recipe import _postprocess, inputs
    from seesall.viz.draw import draw_objects
    from seesall.viz.layout import save_png

    module, _, meta = load_trained_model(args.checkpoint, recipe)
    names = list(meta.get("class_names") or [])
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, images = [], []
    for path, scene in image_scenes(args.input):
        batch = collate([scene], size_divisible=32)
        with torch.no_grad():
            pred = _postprocess(module(*inputs(batch)), batch, module=module)[0]
        kept = pred if keep_classes is None else pred[torch.isin(pred.labels, torch.tensor(list(keep_classes)))]
        results += predictions_to_coco_results([(scene.image_id, kept)],
                                               with_masks=skeleton is None)
        images.append(image_record(scene))
        overlay = draw_objects(scene.image, pred, names, skeleton=skeleton,
                               score_threshold=args.score_threshold)
        save_png(overlay, out_dir / f"{path.stem}_pred.png")
        print(f"{path.name}: {int((pred.scores >= args.score_threshold).sum())} objects")
    write_json(out_dir / "predictions.json", results, indent=1)
    write_json(out_dir / "images.json", images, indent=1)
    return 0


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on an instance checkpoint: mask + box overlays and segm results."""
    from seesall.tasks.instance import recipe

    return predict_objects(args, recipe)
