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


# ----------------------------------------------------------------------------------------
# seesall predict CHECKPOINT IMAGE|DIR --out DIR


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on a semantic checkpoint.

    Writes per image ``labels/<stem>.png`` (the class map as a label PNG; the folder is
    what ``seesall eval semantic --pred`` reads) and ``<stem>_pred.png`` (the colour map blended
    over the image with opacity ``--alpha``).
    """
    from seesall.engine.run import load_trained_model
    from seesall.io.labels import write_label_png
    from seesall.structures import collate
    from seesall.tasks.detection.cli import image_scenes
    from seesall.tasks.semantic import recipe
    from seesall.viz.layout import save_png
    from seesall.viz.palette import colorize_semantic

    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be in [0, 1], got {args.alpha}")
    model, _, meta = load_trained_model(args.checkpoint, recipe)
    num_classes = len(meta.get("class_names") or [])
    out_dir = Path(args.out)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    for path, scene in image_scenes(args.input):
        batch = collate([scene], size_divisible=32)
        with torch.no_grad():
            labels = recipe.postprocess(model(*recipe._inputs(batch)), batch)[0]  # (H, W)
        write_label_png(out_dir / "labels" / f"{path.stem}.png", labels)
        colours = colorize_semantic(labels, num_classes).float()  # (3, H, W)
        image = scene.image.as_subclass(torch.Tensor).float()
        save_png((image * (1 - args.alpha) + colours * args.alpha).round().to(torch.uint8),
                 out_dir / f"{path.stem}_pred.png")
        present = ", ".join(meta["class_names"][int(c)] for c in labels.unique())
        print(f"{path.name}: {present}")
    return 0
