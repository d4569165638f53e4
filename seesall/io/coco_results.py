"""Read a COCO results file (``[{image_id, category_id, bbox, score, ...}]``) as Objects.

The inverse of ``seesall.io.coco.write_coco_results``, resolved against the dataset the
results are for (its category-id -> label mapping and image sizes):

- ``bbox`` [x, y, w, h] -> XYXY, clipped to the image; ``score`` -> ``Objects.scores``.
- ``segmentation`` (RLE or polygons) -> ``Objects.masks`` when every result has one.
- ``keypoints`` [x, y, v] * K -> ``Objects.keypoints`` / ``visibility`` (v rounded and
  clipped to 0..2) when every result has K keypoints.
- Every image of the dataset gets an entry (empty Objects when it has no results).
- Errors name the file and the entry: ``"res.json: results[4].category_id 12 is not a
  category of the dataset"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

from seesall.io.coco_masks import segmentation_to_mask
from seesall.io.coco_read import CocoDataset, _Checker, _is_num, _load_json
from seesall.structures import Objects


def read_coco_results(path: str | os.PathLike, dataset: CocoDataset) -> dict[int, Objects]:
    """COCO results JSON -> {image_id: Objects with scores} for every image of ``dataset``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such COCO results file")
    results = _load_json(path)
    check = _Checker(path.name)
    if not isinstance(results, list):
        check.fail("top level", f"must be a list of results, got {type(results).__name__}")
    sizes = {img["id"]: (img["height"], img["width"]) for img in dataset.images}
    by_image: dict[int, list[dict[str, Any]]] = {i: [] for i in sizes}
    for i, res in enumerate(results):
        f = f"results[{i}]"
        if not isinstance(res, dict):
            check.fail(f, "must be an object")
        if res.get("image_id") not in sizes:
            check.fail(f"{f}.image_id", f"{res.get('image_id')!r} is not an image of "
                       f"{dataset.json_path.name}")
        if res.get("category_id") not in dataset.cat_id_to_label:
            check.fail(f"{f}.category_id", f"{res.get('category_id')!r} is not a category of "
                       "the dataset")
        check.bbox(f, res.get("bbox"))
        if not _is_num(res.get("score")):
            check.fail(f"{f}.score", f"must be a finite number, got {res.get('score')!r}")
        if "segmentation" in res:
            check.segmentation(f, res["segmentation"], sizes[res["image_id"]])
        by_image[res["image_id"]].append(res)
    with_masks = bool(results) and all("segmentation" in r for r in results)
    k = len(results[0].get("keypoints", [])) // 3 if results else 0
    if k and not all(len(r.get("keypoints", [])) == 3 * k for r in results):
        check.fail("results[*].keypoints", f"must all have 3 * {k} numbers (as results[0])")
    return {image_id: _objects(res, sizes[image_id], dataset, with_masks, k)
            for image_id, res in by_image.items()}


def _objects(results: list[dict[str, Any]], hw: tuple[int, int], dataset: CocoDataset,
             with_masks: bool, k: int) -> Objects:
    h, w = hw
    n = len(results)
    boxes = torch.tensor([r["bbox"] for r in results], dtype=torch.float64).view(n, 4)
    boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    kwargs: dict[str, Any] = {
        "labels": torch.tensor([dataset.cat_id_to_label[r["category_id"]] for r in results],
                               dtype=torch.int64),
        "boxes": tv_tensors.BoundingBoxes(boxes.float(), format="XYXY", canvas_size=hw),
        "scores": torch.tensor([float(r["score"]) for r in results], dtype=torch.float32),
    }
    if with_masks:
        masks = np.zeros((n, h, w), bool)  # (N, H, W)
        for i, r in enumerate(results):
            masks[i] = segmentation_to_mask(r["segmentation"], h, w)
        kwargs["masks"] = tv_tensors.Mask(torch.from_numpy(masks))
    if k:
        kp = torch.tensor([r["keypoints"] for r in results], dtype=torch.float64).view(n, k, 3)
        kwargs["keypoints"] = tv_tensors.KeyPoints(kp[:, :, :2].float(), canvas_size=hw)
        kwargs["visibility"] = kp[:, :, 2].round().clamp(0, 2).to(torch.uint8)
    return Objects(**kwargs)
