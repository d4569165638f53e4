"""``seesall eval panoptic``: PQ/SQ/RQ on COCO panoptic-format files.

Ground truth and predictions are each a JSON file (``annotations``: one entry per image
with ``file_name`` of its PNG and ``segments_info`` [{id, category_id, iscrowd}];
``categories`` [{id, isthing}] in the ground truth) and a folder of PNGs whose colour
encodes the segment id as R + 256·G + 256²·B (0 = void), as panopticapi writes them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seesall.io.atomic import read_json, write_json
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
    data = read_json(path)
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


# ----------------------------------------------------------------------------------------
# seesall predict CHECKPOINT IMAGE|DIR --out DIR


def segments_info(pan: torch.Tensor, segments: list[Segment]) -> list[dict[str, Any]]:
    """COCO panoptic ``segments_info`` of a map: id, category_id, iscrowd, isthing, score,
    area and bbox [x, y, w, h] (pixel extent) per segment present in ``pan``."""
    info = []
    for s in segments:
        ys, xs = torch.nonzero(pan == s.id, as_tuple=True)
        if ys.numel() == 0:
            continue
        x0, y0 = int(xs.min()), int(ys.min())
        info.append({"id": s.id, "category_id": s.category_id, "iscrowd": 0,
                     "isthing": int(s.isthing), "score": round(float(s.score), 5),
                     "area": int(ys.numel()),
                     "bbox": [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]})
    return info


def panoptic_overlay(image: torch.Tensor, pan: torch.Tensor, segments: list[Segment],
                     class_names: list[str], alpha: float) -> torch.Tensor:
    """Stuff segments in their class colour blended over the image, then every thing
    segment as a mask with its box and caption; colours index one palette over all
    ``class_names`` (the semantic classes), so stuff and things never share one.
    Tensor[3, H, W] uint8 -> same."""
    from torchvision import tv_tensors
    from torchvision.ops import masks_to_boxes

    from seesall.structures import IGNORE_INDEX, Objects
    from seesall.viz.draw import draw_objects
    from seesall.viz.palette import colorize_semantic

    stuff = torch.full_like(pan, IGNORE_INDEX)
    for s in segments:
        if not s.isthing:
            stuff[pan == s.id] = s.category_id
    img = image.as_subclass(torch.Tensor)
    colours = colorize_semantic(stuff, len(class_names)).float()  # (3, H, W)
    blended = torch.where(stuff[None] != IGNORE_INDEX, img * (1 - alpha) + colours * alpha,
                          img.float()).round().to(torch.uint8)
    things = [s for s in segments if s.isthing]
    if not things:
        return blended
    masks = torch.stack([pan == s.id for s in things])  # (N, H, W)
    boxes = masks_to_boxes(masks)
    boxes[:, 2:] += 1.0
    objs = Objects(labels=torch.tensor([s.category_id for s in things]),
                   boxes=tv_tensors.BoundingBoxes(boxes, format="XYXY",
                                                  canvas_size=tuple(pan.shape)),
                   masks=tv_tensors.Mask(masks),
                   scores=torch.tensor([s.score for s in things]))
    return draw_objects(blended, objs, class_names)


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on a panoptic checkpoint.

    Writes ``panoptic/<stem>.png`` (segment id as R + 256 G + 256² B, 0 = void),
    ``predictions.json`` (COCO panoptic: ``images``, ``annotations`` with
    ``segments_info``, ``categories``; ``seesall eval panoptic --pred predictions.json
    --pred-dir OUT/panoptic`` reads it) and ``<stem>_pred.png`` overlays.
    """
    from seesall.engine.run import load_trained_model
    from seesall.structures import collate
    from seesall.tasks.detection.cli import image_record, image_scenes
    from seesall.tasks.panoptic import recipe
    from seesall.viz.layout import save_png
    from seesall.world import STUFF_CLASSES

    if args.input is None:
        raise ValueError("a panoptic checkpoint needs an INPUT image or folder")
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be in [0, 1], got {args.alpha}")
    module, _, meta = load_trained_model(args.checkpoint, recipe)
    names = list(meta.get("class_names") or [])
    num_stuff = len(STUFF_CLASSES)
    out_dir = Path(args.out)
    (out_dir / "panoptic").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for path, scene in image_scenes(args.input):
        batch = collate([scene], size_divisible=32)
        with torch.no_grad():
            pred = recipe._postprocess(module(*recipe.inputs(batch)), batch, module=module)[0]
        png = f"{path.stem}.png"
        save_png(torch.from_numpy(id_to_rgb(pred.panoptic.numpy())).permute(2, 0, 1),
                 out_dir / "panoptic" / png)
        images.append(image_record(scene))
        annotations.append({"image_id": scene.image_id, "file_name": png,
                            "segments_info": segments_info(pred.panoptic, pred.segments)})
        save_png(panoptic_overlay(scene.image, pred.panoptic, pred.segments, names, args.alpha),
                 out_dir / f"{path.stem}_pred.png")
        print(f"{path.name}: {sum(s.isthing for s in pred.segments)} things, "
              f"{sum(not s.isthing for s in pred.segments)} stuff segments")
    categories = [{"id": i, "name": n, "isthing": int(i >= num_stuff)}
                  for i, n in enumerate(names)]
    write_json(out_dir / "predictions.json", {"images": images, "annotations": annotations,
                                              "categories": categories}, indent=1)
    return 0
