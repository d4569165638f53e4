"""COCO evaluation (bbox, segm, keypoints) that agrees with pycocotools to the last digit.

The matching, accumulation and summary are pycocotools' own algorithm, run by
faster-coco-eval (a C++ port, bit-identical and several times faster) when it
is installed, else by pycocotools itself. This module only converts at the
boundary: ``Scene`` ground truth and ``Objects`` predictions become COCO
dicts (category id = label + 1), the 12 summary numbers become named keys.

Two entry points:
    * ``CocoEvaluator``: ``reset / update(scenes, predictions) / compute``.
    * ``evaluate_coco(gt_dict, results_list)``: on COCO-format data directly.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pycocotools import mask as mask_utils

from seesall.structures import Objects, Scene

IouType = Literal["bbox", "segm", "keypoints"]
Engine = Literal["auto", "faster", "pycocotools"]

DET_STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                 "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
"""The 12 numbers of ``COCOeval.summarize()`` for bbox / segm, in its order."""
KPT_STAT_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
"""The 10 numbers of ``COCOeval.summarize()`` for keypoints, in its order."""


def stat_keys(iou_type: IouType) -> tuple[str, ...]:
    return KPT_STAT_KEYS if iou_type == "keypoints" else DET_STAT_KEYS


def _engine_classes(engine: Engine) -> tuple[type, type]:
    """(COCO, COCOeval) classes of the chosen engine."""
    if engine in ("auto", "faster"):
        try:
            from faster_coco_eval import COCO, COCOeval_faster

            return COCO, COCOeval_faster
        except ImportError:
            if engine == "faster":
                raise ValueError("engine 'faster' needs the faster-coco-eval package") from None
    if engine not in ("auto", "faster", "pycocotools"):
        raise ValueError(f"engine must be auto, faster or pycocotools, got {engine!r}")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return COCO, COCOeval


def run_cocoeval(gt: dict, results: list[dict], *, iou_type: IouType = "bbox",
                 engine: Engine = "auto", kpt_oks_sigmas: Sequence[float] | None = None) -> Any:
    """Run COCOeval evaluate/accumulate/summarize quietly; returns the COCOeval object.

    Args:
        gt: a COCO ground-truth dict (images, annotations, categories).
        results: COCO results (image_id, category_id, score and bbox/segmentation/keypoints).
        kpt_oks_sigmas: per-keypoint OKS sigmas (``params.kpt_oks_sigmas``) for
            ``iou_type="keypoints"``; None keeps COCO's 17.
    """
    if kpt_oks_sigmas is not None and iou_type != "keypoints":
        raise ValueError(f"kpt_oks_sigmas applies to iou_type 'keypoints', not {iou_type!r}")
    coco_cls, eval_cls = _engine_classes(engine)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = _load_results(coco_cls, coco_gt, results)
        if eval_cls.__module__.startswith("faster_coco_eval"):
            ev = eval_cls(coco_gt, coco_dt, iou_type, print_function=lambda *a, **k: None)
        else:
            ev = eval_cls(coco_gt, coco_dt, iou_type)
        if kpt_oks_sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(kpt_oks_sigmas, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _load_results(coco_cls: type, coco_gt: Any, results: list[dict]) -> Any:
    """``coco_gt.loadRes``, also for an empty result list (which pycocotools rejects)."""
    if results:
        return coco_gt.loadRes(copy.deepcopy(results))
    coco_dt = coco_cls()
    coco_dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": [],
                       "categories": copy.deepcopy(coco_gt.dataset["categories"])}
    coco_dt.createIndex()
    return coco_dt


def summarize(ev: Any, gt: dict, iou_type: IouType) -> dict[str, Any]:
    """The named summary numbers plus ``per_class`` AP (IoU .50:.95, all areas, 100 dets).

    ``per_class`` maps category name -> AP, -1.0 for a category without ground truth
    (pycocotools' convention for undefined values).
    """
    out: dict[str, Any] = {k: float(v) for k, v in zip(stat_keys(iou_type), ev.stats, strict=True)}
    precision = np.asarray(ev.eval["precision"])  # (T, R, K, A, M)
    names = {c["id"]: str(c.get("name", c["id"])) for c in gt["categories"]}
    per_class: dict[str, float] = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[names[cat_id]] = float(np.mean(p)) if p.size else -1.0
    out["per_class"] = per_class
    return out


def evaluate_coco(gt: dict, results: list[dict], *, iou_type: IouType = "bbox",
                  engine: Engine = "auto", kpt_oks_sigmas: Sequence[float] | None = None
                  ) -> dict[str, Any]:
    """COCO metrics of ``results`` against ``gt`` (both already validated COCO data)."""
    ev = run_cocoeval(gt, results, iou_type=iou_type, engine=engine, kpt_oks_sigmas=kpt_oks_sigmas)
    return summarize(ev, gt, iou_type)


# ----------------------------------------------------------------------------------------
# Conversion at the boundary: Scene / Objects -> COCO dicts.


def categories_from_names(names: Sequence[str]) -> list[dict]:
    """COCO categories: id = label + 1, in label order."""
    return [{"id": i + 1, "name": str(n), "supercategory": "thing"} for i, n in enumerate(names)]


def _rle(mask: torch.Tensor) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.numpy().astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _xywh(box: torch.Tensor) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _keypoints(objs: Objects, i: int) -> tuple[list[float], int]:
    kp = objs.keypoints.as_subclass(torch.Tensor)[i]
    vis = objs.visibility[i]
    flat: list[float] = []
    for (x, y), v in zip(kp.tolist(), vis.tolist(), strict=True):
        flat += [x, y, float(v)]
    return flat, int((vis > 0).sum())


def objects_to_coco_annotations(objs: Objects, image_id: int, first_id: int,
                                iou_type: IouType) -> list[dict]:
    """Ground-truth annotations of one image (area = mask area when masks exist)."""
    anns = []
    for i in range(len(objs)):
        box = objs.boxes.as_subclass(torch.Tensor)[i]
        ann = {"id": first_id + i, "image_id": image_id, "category_id": int(objs.labels[i]) + 1,
               "bbox": _xywh(box), "iscrowd": 0}
        if objs.masks is not None:
            ann["area"] = float(objs.masks[i].sum())
            if iou_type == "segm":
                ann["segmentation"] = _rle(objs.masks[i].as_subclass(torch.Tensor))
        else:
            ann["area"] = float((box[2] - box[0]) * (box[3] - box[1]))
        if iou_type == "keypoints":
            ann["keypoints"], ann["num_keypoints"] = _keypoints(objs, i)
        anns.append(ann)
    return anns


def objects_to_coco_results(objs: Objects, image_id: int, iou_type: IouType = "bbox") -> list[dict]:
    """COCO results of one image's predictions (``objs.scores`` required)."""
    if objs.scores is None:
        raise ValueError(f"predictions for image {image_id} have no scores")
    if iou_type == "segm" and objs.masks is None:
        raise ValueError(f"segm evaluation needs predicted masks (image {image_id})")
    if iou_type == "keypoints" and objs.keypoints is None:
        raise ValueError(f"keypoint evaluation needs predicted keypoints (image {image_id})")
    out = []
    for i in range(len(objs)):
        res = {"image_id": image_id, "category_id": int(objs.labels[i]) + 1,
               "score": float(objs.scores[i]),
               "bbox": _xywh(objs.boxes.as_subclass(torch.Tensor)[i])}
        if iou_type == "segm":
            res["segmentation"] = _rle(objs.masks[i].as_subclass(torch.Tensor))
        if iou_type == "keypoints":
            res["keypoints"] = _keypoints(objs, i)[0]
        out.append(res)
    return out


class CocoEvaluator:
    """Accumulates scenes and predictions; ``compute`` runs the COCO evaluation.

    Args:
        categories: class names, index = label.
        iou_type: "bbox", "segm" or "keypoints".
        engine: "auto" (faster-coco-eval if installed, else pycocotools), "faster"
            or "pycocotools".
        kpt_oks_sigmas: per-keypoint OKS sigmas for ``iou_type="keypoints"`` (one per
            keypoint, e.g. 13 for the synthetic person); None keeps COCO's 17.
    """

    def __init__(self, *, categories: Sequence[str], iou_type: IouType = "bbox",
                 engine: Engine = "auto", kpt_oks_sigmas: Sequence[float] | None = None) -> None:
        if iou_type not in ("bbox", "segm", "keypoints"):
            raise ValueError(f"iou_type must be bbox, segm or keypoints, got {iou_type!r}")
        self.categories = list(categories)
        self.iou_type: IouType = iou_type
        self.engine: Engine = engine
        if kpt_oks_sigmas is not None and iou_type != "keypoints":
            raise ValueError(f"kpt_oks_sigmas applies to iou_type 'keypoints', not {iou_type!r}")
        self.kpt_oks_sigmas = None if kpt_oks_sigmas is None else tuple(kpt_oks_sigmas)
        self.reset()

    def reset(self) -> None:
        self._images: list[dict] = []
        self._annotations: list[dict] = []
        self._results: list[dict] = []
        self._seen: set[int] = set()

    def update(self, scenes: Sequence[Scene], predictions: Sequence[Objects]) -> None:
        """Add ground-truth scenes and the predicted objects for each (same order)."""
        if len(scenes) != len(predictions):
            raise ValueError(f"{len(scenes)} scenes but {len(predictions)} predictions")
        for scene, pred in zip(scenes, predictions, strict=True):
            image_id = int(scene.image_id)
            if image_id in self._seen:
                raise ValueError(f"image_id {image_id} was already added; ids must be unique")
            self._seen.add(image_id)
            h, w = scene.size
            self._images.append({"id": image_id, "height": h, "width": w,
                                 "file_name": scene.file_name or f"{image_id}.png"})
            self._annotations += objects_to_coco_annotations(
                scene.objects, image_id, len(self._annotations) + 1, self.iou_type)
            self._results += objects_to_coco_results(pred, image_id, self.iou_type)

    def state(self) -> dict[str, list]:
        """What ``update`` gathered, as plain lists (picklable, for gathering across processes)."""
        return {"images": list(self._images), "annotations": list(self._annotations),
                "results": list(self._results)}

    def merge(self, states: Sequence[dict[str, list]]) -> None:
        """Replace the gathered data by the union of ``states`` (one per process).

        Each process numbers its annotations from 1; ids are renumbered here, since the COCO
        API looks annotations up by id.
        """
        self.reset()
        for st in states:
            for img in st["images"]:
                if img["id"] in self._seen:
                    raise ValueError(f"image_id {img['id']} was evaluated by two processes")
                self._seen.add(img["id"])
            self._images += st["images"]
            self._annotations += [{**a, "id": len(self._annotations) + i + 1}
                                  for i, a in enumerate(st["annotations"])]
            self._results += st["results"]

    def coco_gt(self) -> dict:
        """The accumulated ground truth as a COCO dict."""
        return {"images": list(self._images), "annotations": list(self._annotations),
                "categories": categories_from_names(self.categories)}

    def coco_results(self) -> list[dict]:
        return list(self._results)

    def compute(self) -> dict[str, Any]:
        """The named COCO stats (floats) and ``per_class`` (name -> AP)."""
        if not self._images:
            nan = {k: math.nan for k in stat_keys(self.iou_type)}
            return {**nan, "per_class": {}}
        return evaluate_coco(self.coco_gt(), self._results, iou_type=self.iou_type,
                             engine=self.engine, kpt_oks_sigmas=self.kpt_oks_sigmas)
