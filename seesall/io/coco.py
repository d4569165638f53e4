"""COCO JSON: write Scenes as a COCO dataset, write predictions as COCO results, read
COCO datasets as Scenes (:class:`~seesall.io.coco_read.CocoDataset`, re-exported here).

Written dataset (``scenes_to_coco`` / ``write_coco``), following the COCO format:

- ``images``: ``{id: scene.image_id, file_name, width, height}``; ``file_name`` is
  ``scene.file_name`` or ``f"{image_id:06d}.png"``. Image ids must be distinct.
- ``categories``: ``{id: category_ids[label] (default label + 1), name, supercategory}``;
  categories in ``keypoint_labels`` (default: all, when ``keypoint_names`` is given) also get
  ``keypoints`` (names) and ``skeleton`` (1-based index pairs, as COCO).
- ``annotations``: ids from 1 (pycocotools' evaluator treats id 0 as "unmatched"),
  ``bbox`` [x, y, w, h] (XYXY -> XYWH here and only here), ``iscrowd`` 0,
  ``area`` = mask pixel count (box area when there are no masks), ``segmentation`` as
  RLE (exact) or polygons (``mask_format``; see ``coco_masks``; an empty mask is written
  as RLE since an empty polygon list is not valid COCO), ``keypoints`` [x, y, v] * K with
  x = y = 0 where v = 0, and ``num_keypoints`` = count of v > 0. Two extra fields keep
  what COCO has no place for: ``instance_id`` (``objects.ids``) and ``depth``.

Results (``predictions_to_coco_results`` / ``write_coco_results``): the list format
``loadRes`` and COCOeval read: ``{image_id, category_id, bbox [x, y, w, h], score}`` plus
``segmentation`` (RLE) when the objects have masks and ``keypoints`` [x, y, v] * K when
they have keypoints (v = the visibility flag, or 1 when unknown). ``read_coco_results``
reads such a file back as Objects with scores.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from seesall.io.atomic import write_json
from seesall.io.coco_masks import mask_to_polygons, masks_to_rle, rle_area
from seesall.io.coco_read import CocoDataset
from seesall.io.coco_results import read_coco_results
from seesall.io.image import write_image
from seesall.structures import Objects, Scene

__all__ = [
    "CocoDataset",
    "predictions_to_coco_results",
    "read_coco_results",
    "scenes_to_coco",
    "write_coco",
    "write_coco_results",
]

MaskFormat = Literal["rle", "polygon", "none"]


def scenes_to_coco(
    scenes: Iterable[Scene],
    *,
    class_names: Sequence[str],
    mask_format: MaskFormat = "rle",
    keypoint_names: Sequence[str] | None = None,
    skeleton: Sequence[tuple[int, int]] | None = None,
    keypoint_labels: Collection[int] | None = None,
    category_ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Scenes -> a COCO dataset dict (format in the module doc).

    Args:
        class_names: name of each label.
        mask_format: "rle", "polygon", or "none" (no ``segmentation``).
        keypoint_names: the K keypoint names, if objects carry keypoints.
        skeleton: 0-based keypoint index pairs (written 1-based).
        keypoint_labels: labels whose categories have keypoints (default: all).
        category_ids: COCO category id of each label (default: label + 1).
    """
    if mask_format not in ("rle", "polygon", "none"):
        raise ValueError(f"mask_format must be 'rle', 'polygon' or 'none', got {mask_format!r}")
    cat_ids = _category_ids(class_names, category_ids)
    kp_labels = set(range(len(class_names)) if keypoint_labels is None else keypoint_labels)
    if keypoint_names is None:
        kp_labels = set()
    categories = _categories(class_names, cat_ids, kp_labels, keypoint_names, skeleton)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    for index, scene in enumerate(scenes):
        if scene.image_id in seen:
            raise ValueError(f"scenes[{index}].image_id {scene.image_id} repeats "
                             f"scenes[{seen[scene.image_id]}]'s; image ids must be distinct")
        seen[scene.image_id] = index
        h, w = scene.size
        images.append({"id": int(scene.image_id), "file_name": _file_name(scene),
                       "width": w, "height": h})
        anns = _annotations(scene.objects, int(scene.image_id), cat_ids, kp_labels,
                            keypoint_names, mask_format, where=f"scenes[{index}]")
        for ann in anns:
            ann["id"] = len(annotations) + 1
            annotations.append(ann)
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(
    path: str | os.PathLike,
    scenes: Iterable[Scene],
    *,
    images_dir: str | os.PathLike | None = None,
    indent: int | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Atomically write ``scenes_to_coco(scenes, **kwargs)`` to ``path``; with ``images_dir``,
    also write every scene's image there under its ``file_name``. Returns the dict."""
    scenes = list(scenes)
    coco = scenes_to_coco(scenes, **kwargs)
    if images_dir is not None:
        for scene, img in zip(scenes, coco["images"], strict=True):
            write_image(Path(images_dir) / img["file_name"], scene.image)
    write_json(path, coco, indent=indent)
    return coco


def predictions_to_coco_results(
    predictions: Iterable[Scene | tuple[int, Objects]],
    *,
    category_ids: Sequence[int] | None = None,
    with_masks: bool = True,
    with_keypoints: bool = True,
) -> list[dict[str, Any]]:
    """Predicted objects (``objects.scores`` set) -> the COCO results list.

    Args:
        predictions: Scenes (their ``image_id`` is used) or ``(image_id, Objects)`` pairs.
        category_ids: COCO category id of each label (default: label + 1).
        with_masks / with_keypoints: write ``segmentation`` / ``keypoints`` when present.
    """
    results: list[dict[str, Any]] = []
    for index, item in enumerate(predictions):
        image_id, objs = (item.image_id, item.objects) if isinstance(item, Scene) else item
        if objs.scores is None:
            raise ValueError(f"predictions[{index}] (image_id {image_id}): objects.scores is "
                             "None; COCO results need a score per object")
        boxes = _xywh(objs)
        rles = masks_to_rle(_np(objs.masks)) if with_masks and objs.masks is not None else None
        for i in range(len(objs)):
            res: dict[str, Any] = {
                "image_id": int(image_id),
                "category_id": _cat_id(int(objs.labels[i]), category_ids),
                "bbox": boxes[i],
                "score": float(objs.scores[i]),
            }
            if rles is not None:
                res["segmentation"] = rles[i]
            if with_keypoints and objs.keypoints is not None:
                res["keypoints"] = _keypoint_triplets(objs, i, default_v=1)[0]
            results.append(res)
    return results


def write_coco_results(path: str | os.PathLike,
                       predictions: Iterable[Scene | tuple[int, Objects]],
                       **kwargs: Any) -> list[dict[str, Any]]:
    """Atomically write ``predictions_to_coco_results(predictions, **kwargs)`` as JSON."""
    results = predictions_to_coco_results(predictions, **kwargs)
    write_json(path, results)
    return results


def _annotations(objs: Objects, image_id: int, cat_ids: list[int], kp_labels: set[int],
                 keypoint_names: Sequence[str] | None, mask_format: MaskFormat,
                 where: str) -> list[dict[str, Any]]:
    """One COCO annotation dict (without ``id``) per object."""
    if keypoint_names is not None and objs.keypoints is not None \
            and objs.keypoints.shape[1] != len(keypoint_names):
        raise ValueError(f"{where}.objects.keypoints has K={objs.keypoints.shape[1]} but "
                         f"keypoint_names has {len(keypoint_names)}")
    boxes = _xywh(objs)
    masks = _np(objs.masks) if objs.masks is not None and mask_format != "none" else None
    rles = masks_to_rle(masks) if masks is not None else None
    anns = []
    for i in range(len(objs)):
        label = int(objs.labels[i])
        if not 0 <= label < len(cat_ids):
            raise ValueError(f"{where}.objects.labels[{i}] = {label} is not a class index "
                             f"(there are {len(cat_ids)} classes)")
        ann: dict[str, Any] = {"image_id": image_id, "category_id": cat_ids[label],
                               "bbox": boxes[i], "iscrowd": 0,
                               "area": boxes[i][2] * boxes[i][3]}
        if rles is not None:
            ann["area"] = rle_area(rles[i])
            polys = mask_to_polygons(masks[i]) if mask_format == "polygon" else []
            ann["segmentation"] = polys if polys else rles[i]
        if label in kp_labels:
            if objs.keypoints is None:
                raise ValueError(f"{where}.objects has no keypoints but category "
                                 f"{cat_ids[label]} has keypoints")
            ann["keypoints"], ann["num_keypoints"] = _keypoint_triplets(objs, i, default_v=0)
        if objs.ids is not None:
            ann["instance_id"] = int(objs.ids[i])
        if objs.depth is not None:
            ann["depth"] = float(objs.depth[i])
        anns.append(ann)
    return anns


def _keypoint_triplets(objs: Objects, i: int, default_v: int) -> tuple[list[float], int]:
    """[x1, y1, v1, ...] for object ``i`` (x = y = 0 where v = 0), and the count of v > 0."""
    kp = objs.keypoints.as_subclass(torch.Tensor)[i].tolist()  # (K, 2)
    vis = objs.visibility[i].tolist() if objs.visibility is not None else [default_v] * len(kp)
    out: list[float] = []
    for (x, y), v in zip(kp, vis, strict=True):
        out += [float(x), float(y), int(v)] if v > 0 else [0.0, 0.0, 0]
    return out, sum(1 for v in vis if v > 0)


def _categories(class_names: Sequence[str], cat_ids: list[int], kp_labels: set[int],
                keypoint_names: Sequence[str] | None,
                skeleton: Sequence[tuple[int, int]] | None) -> list[dict[str, Any]]:
    k = len(keypoint_names) if keypoint_names is not None else 0
    for a, b in skeleton or []:
        if not (0 <= a < k and 0 <= b < k):
            raise ValueError(f"skeleton edge ({a}, {b}) is outside the {k} keypoints (0-based)")
    cats = []
    for label, name in enumerate(class_names):
        cat: dict[str, Any] = {"id": cat_ids[label], "name": str(name), "supercategory": "object"}
        if label in kp_labels:
            cat["keypoints"] = [str(n) for n in keypoint_names or []]
            cat["skeleton"] = [[int(a) + 1, int(b) + 1] for a, b in skeleton or []]
        cats.append(cat)
    return cats


def _category_ids(class_names: Sequence[str], category_ids: Sequence[int] | None) -> list[int]:
    if category_ids is None:
        return list(range(1, len(class_names) + 1))
    ids = [int(c) for c in category_ids]
    if len(ids) != len(class_names) or len(set(ids)) != len(ids):
        raise ValueError(f"category_ids must be {len(class_names)} distinct ints (one per "
                         f"class name), got {list(category_ids)}")
    return ids


def _cat_id(label: int, category_ids: Sequence[int] | None) -> int:
    if category_ids is None:
        return label + 1
    if not 0 <= label < len(category_ids):
        raise ValueError(f"label {label} has no entry in category_ids ({len(category_ids)})")
    return int(category_ids[label])


def _xywh(objs: Objects) -> list[list[float]]:
    """XYXY boxes -> [[x, y, w, h], ...] (the one place boxes leave XYXY)."""
    b = objs.boxes.as_subclass(torch.Tensor).double()
    wh = b[:, 2:] - b[:, :2]
    return torch.cat([b[:, :2], wh], dim=1).tolist()


def _np(masks: torch.Tensor) -> np.ndarray:
    return masks.detach().cpu().as_subclass(torch.Tensor).numpy().astype(bool)


def _file_name(scene: Scene) -> str:
    """``scene.file_name`` (a relative path inside the images folder) or a default name."""
    name = scene.file_name or f"{scene.image_id:06d}.png"
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or not parts:
        raise ValueError(f"scene {scene.image_id}: file_name {name!r} must be a relative path "
                         "inside the images folder (no '..', not absolute)")
    return Path(name).as_posix()
