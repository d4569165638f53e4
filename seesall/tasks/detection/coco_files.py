"""Reading and checking COCO ground-truth and results files for evaluation.

Every problem raises ValueError naming the file and the field
("gt.json: annotations[3].bbox must be 4 numbers"), so that ``seesall eval``
prints one line instead of a traceback from deep inside pycocotools.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seesall.io.atomic import read_json
from seesall.tasks.detection.coco_eval import IouType


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_bbox(where: str, bbox: Any) -> None:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
        raise ValueError(f"{where}.bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}")
    if bbox[2] < 0 or bbox[3] < 0:
        raise ValueError(f"{where}.bbox has a negative width or height: {bbox!r}")


def _check_fields(where: str, item: Any, fields: dict[str, type | tuple[type, ...]]) -> None:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object, got {type(item).__name__}")
    for name, kind in fields.items():
        if name not in item:
            raise ValueError(f"{where}.{name} is missing")
        if not isinstance(item[name], kind) or isinstance(item[name], bool):
            raise ValueError(f"{where}.{name} has the wrong type {type(item[name]).__name__}")


def _check_payload(where: str, item: dict, iou_type: IouType, *, result: bool) -> None:
    if iou_type == "bbox" or "bbox" in item:
        if iou_type == "bbox" and "bbox" not in item:
            raise ValueError(f"{where}.bbox is missing")
        _check_bbox(where, item["bbox"])
    if iou_type == "segm" and "segmentation" not in item:
        raise ValueError(f"{where}.segmentation is missing")
    if iou_type == "keypoints":
        kp = item.get("keypoints")
        if not (isinstance(kp, list) and len(kp) % 3 == 0 and all(_number(v) for v in kp)):
            raise ValueError(f"{where}.keypoints must be a list of 3K numbers")
    if result and not _number(item.get("score")):
        raise ValueError(f"{where}.score must be a finite number")


def load_coco_gt(path: str | Path, iou_type: IouType = "bbox") -> dict:
    """A checked COCO ground-truth dict. Fills ``iscrowd`` (0) and ``area`` (box area) if absent."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be an object with images/annotations/categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{path}: '{key}' must be a list")
    for i, img in enumerate(data["images"]):
        _check_fields(f"{path}: images[{i}]", img, {"id": int})
    for i, cat in enumerate(data["categories"]):
        _check_fields(f"{path}: categories[{i}]", cat, {"id": int})
    image_ids = {img["id"] for img in data["images"]}
    cat_ids = {c["id"] for c in data["categories"]}
    seen: set[int] = set()
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{i}]"
        _check_fields(where, ann, {"image_id": int, "category_id": int})
        _check_payload(where, ann, iou_type, result=False)
        if ann["image_id"] not in image_ids:
            raise ValueError(f"{where}.image_id {ann['image_id']} is not in 'images'")
        if ann["category_id"] not in cat_ids:
            raise ValueError(f"{where}.category_id {ann['category_id']} is not in 'categories'")
        ann.setdefault("iscrowd", 0)
        if "area" not in ann:
            if "bbox" not in ann:
                raise ValueError(f"{where}.area is missing (and there is no bbox to derive it)")
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        ann.setdefault("id", i + 1)
        if ann["id"] in seen:
            raise ValueError(f"{where}.id {ann['id']} is not unique")
        seen.add(ann["id"])
    return data


def load_coco_results(path: str | Path, gt: dict, iou_type: IouType = "bbox") -> list[dict]:
    """A checked COCO results list; image and category ids must exist in ``gt``."""
    data = read_json(path)
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        data = data["annotations"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: top level must be a list of detections")
    image_ids = {img["id"] for img in gt["images"]}
    cat_ids = {c["id"] for c in gt["categories"]}
    for i, det in enumerate(data):
        where = f"{path}: [{i}]"
        _check_fields(where, det, {"image_id": int, "category_id": int})
        _check_payload(where, det, iou_type, result=True)
        if det["image_id"] not in image_ids:
            raise ValueError(f"{where}.image_id {det['image_id']} is not a ground-truth image")
        if det["category_id"] not in cat_ids:
            raise ValueError(f"{where}.category_id {det['category_id']} is not a gt category")
    return data
