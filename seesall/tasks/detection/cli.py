"""Command-line entry points of the detection task.

``seesall eval detection --gt annotations.json --pred detections.json
[--out metrics.json] [--plot pr.png] [--iou-type bbox]``
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
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


# ----------------------------------------------------------------------------------------
# seesall predict CHECKPOINT IMAGE|DIR --out DIR

PREDICT_HELP = "Detect objects in an image or a folder: overlay PNGs + predictions.json."
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def add_predict_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="run directory or checkpoint folder")
    parser.add_argument("input", help="an image file or a folder of images")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="smallest score drawn on the overlays (all go to the JSON)")


def load_detector(checkpoint: str | Path) -> tuple[Any, list[str]]:
    """The trained ``DetectorModule`` of a detection checkpoint (eval mode) and its classes."""
    from seesall.engine.checkpoint import load_checkpoint
    from seesall.engine.run import load_trained_model
    from seesall.tasks.detection import recipe

    names = list(load_checkpoint(checkpoint).meta.get("class_names") or [])
    if not names:
        raise ValueError(f"{checkpoint}: meta.json names no classes")
    module, _, _ = load_trained_model(checkpoint, recipe, num_classes=len(names))
    return module, names


def list_images(path: Path) -> list[Path]:
    """The image files of a folder (name order), or ``[path]`` for one image file."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image or folder")
    return [path]


def image_scenes(path: str | Path) -> Iterator[tuple[Path, Any]]:
    """(file, Scene without objects, image_id = 1, 2, ...) for every image of ``path``."""
    from seesall.io.image import read_image_tensor
    from seesall.structures.objects import Objects
    from seesall.structures.scene import Scene

    for image_id, file in enumerate(list_images(Path(path)), start=1):
        image = read_image_tensor(file)
        yield file, Scene(image=image, objects=Objects.empty(tuple(image.shape[-2:])),
                          image_id=image_id, file_name=file.name)


def image_record(scene: Any) -> dict[str, Any]:
    """The COCO ``images`` entry of a Scene (written to images.json beside predictions)."""
    h, w = scene.size
    return {"id": int(scene.image_id), "file_name": scene.file_name, "height": int(h), "width": int(w)}


def predict(args: argparse.Namespace) -> int:
    import torch

    from seesall.io.coco import predictions_to_coco_results
    from seesall.structures import collate
    from seesall.viz.draw import draw_objects
    from seesall.viz.layout import save_png

    module, names = load_detector(args.checkpoint)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, images = [], []
    for path, scene in image_scenes(args.input):
        batch = collate([scene], size_divisible=32)
        with torch.no_grad():
            pred = module.detector.predict(batch.images, batch.image_sizes)[0]
        results += predictions_to_coco_results([(scene.image_id, pred)])
        images.append(image_record(scene))
        overlay = draw_objects(scene.image, pred, names, score_threshold=args.score_threshold)
        save_png(overlay, out_dir / f"{path.stem}_pred.png")
        print(f"{path.name}: {int((pred.scores >= args.score_threshold).sum())} objects")
    write_json(out_dir / "predictions.json", results, indent=1)
    write_json(out_dir / "images.json", images, indent=1)
    return 0
