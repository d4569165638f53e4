"""Read a COCO dataset as Scenes: :class:`CocoDataset`.

Contract:

- The whole JSON is checked when the dataset is built; a malformed file raises
  ``ValueError("<file>: annotations[3].bbox must have 4 numbers ...")`` naming the
  field. Images are read lazily (``seesall.io.image.read_image``, so their own errors
  name the image file) and must have the size the JSON gives.
- Category ids map to contiguous labels 0..C-1 in increasing id order:
  ``category_ids[label]`` is the COCO id, ``class_names[label]`` its name.
- Boxes: COCO [x, y, w, h] -> XYXY (the only conversion, at this boundary), clipped to
  the image. Masks (``Mask[N, H, W]``, present when any annotation has a
  ``segmentation``) are decoded with pycocotools from polygons, RLE or uncompressed
  RLE; an annotation without one gets an empty mask.
- Keypoints: K is the largest number of keypoint names over the categories; objects of
  categories with fewer (or none) are padded with visibility 0. ``keypoint_names`` and
  ``skeleton`` (0-based) come from the first category that has keypoints.
- ``Objects.ids`` are the annotations' ``instance_id`` when every annotation of the
  image has one (files seesall wrote), else the COCO annotation ids; ``Objects.depth``
  likewise comes from a ``depth`` field when present.
- Crowd annotations (``iscrowd`` = 1) are *not* in ``scene.objects``, so training never
  sees them as ordinary objects; :meth:`CocoDataset.crowd` returns them as Objects
  (with masks) for evaluators that must ignore detections falling on crowd regions.
- Images without annotations give empty Objects.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from seesall.io.coco_masks import segmentation_to_mask
from seesall.io.image import read_image_tensor
from seesall.structures import Objects, Scene


class CocoDataset(Dataset):
    """A map-style Dataset of Scenes from a COCO JSON file.

    Args:
        root_or_json: the annotation JSON, or a folder holding ``annotations.json``.
        images_dir: where ``file_name``s are resolved (default: ``<folder>/images`` if it
            exists, else the JSON's folder).
    """

    def __init__(self, root_or_json: str | os.PathLike,
                 images_dir: str | os.PathLike | None = None) -> None:
        path = Path(root_or_json)
        self.json_path = path / "annotations.json" if path.is_dir() else path
        if not self.json_path.is_file():
            raise FileNotFoundError(f"{self.json_path}: no such COCO annotation file")
        folder = self.json_path.parent
        if images_dir is None:
            images_dir = folder / "images" if (folder / "images").is_dir() else folder
        self.images_dir = Path(images_dir)
        coco = _load_json(self.json_path)
        check = _Checker(self.json_path.name)
        self.images = check.images(coco)
        cats = check.categories(coco)
        self.category_ids = sorted(cats)
        self.cat_id_to_label = {c: i for i, c in enumerate(self.category_ids)}
        self.class_names = [cats[c]["name"] for c in self.category_ids]
        kp_cats = [cats[c] for c in self.category_ids if cats[c].get("keypoints")]
        self.keypoint_names: list[str] | None = list(kp_cats[0]["keypoints"]) if kp_cats else None
        self.skeleton: list[tuple[int, int]] | None = (
            [(a - 1, b - 1) for a, b in kp_cats[0].get("skeleton", [])] if kp_cats else None)
        self.num_keypoints = max((len(c.get("keypoints", [])) for c in cats.values()), default=0)
        self._anns = check.annotations(coco, self.images, cats)
        self.has_masks = any("segmentation" in a for anns in self._anns.values() for a in anns
                             if not a.get("iscrowd", 0))
        self.image_ids = [img["id"] for img in self.images]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Scene:
        """Scene ``index``: image, non-crowd Objects, ``image_id`` and ``file_name``."""
        info = self.images[index]
        image = read_image_tensor(self.images_dir / info["file_name"])
        if tuple(image.shape[1:]) != (info["height"], info["width"]):
            raise ValueError(f"{self.images_dir / info['file_name']}: image is "
                             f"{image.shape[2]}x{image.shape[1]} but {self.json_path.name} "
                             f"says {info['width']}x{info['height']} (width x height)")
        return Scene(image=image, objects=self.objects(index), image_id=info["id"],
                     file_name=info["file_name"])

    def annotations(self, index: int, *, crowd: bool = False) -> list[dict[str, Any]]:
        """The raw COCO annotations of image ``index`` (crowd ones, or the others)."""
        anns = self._anns.get(self.images[index]["id"], [])
        return [a for a in anns if bool(a.get("iscrowd", 0)) == crowd]

    def objects(self, index: int) -> Objects:
        """The non-crowd objects of image ``index`` (no image decoding)."""
        return self._to_objects(index, self.annotations(index), self.has_masks)

    def crowd(self, index: int) -> Objects:
        """The crowd regions of image ``index`` as Objects with masks (see module doc)."""
        return self._to_objects(index, self.annotations(index, crowd=True), True)

    def _to_objects(self, index: int, anns: list[dict[str, Any]], masks: bool) -> Objects:
        info = self.images[index]
        h, w = info["height"], info["width"]
        if not anns:
            empty = Objects.empty((h, w), self.num_keypoints)
            return empty.replace(masks=tv_tensors.Mask(torch.zeros(0, h, w, dtype=torch.bool))
                                 ) if masks else empty
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float64)
        boxes[:, 2:] += boxes[:, :2]  # XYWH -> XYXY
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        kwargs: dict[str, Any] = {
            "labels": torch.tensor([self.cat_id_to_label[a["category_id"]] for a in anns]),
            "boxes": tv_tensors.BoundingBoxes(boxes.float(), format="XYXY", canvas_size=(h, w)),
            "ids": self._ids(anns),
        }
        if masks:
            kwargs["masks"] = tv_tensors.Mask(torch.from_numpy(self._masks(index, anns, h, w)))
        if self.num_keypoints:
            kwargs["keypoints"], kwargs["visibility"] = self._keypoints(anns, (h, w))
        if all("depth" in a for a in anns):
            kwargs["depth"] = torch.tensor([float(a["depth"]) for a in anns])
        return Objects(**kwargs)

    def _masks(self, index: int, anns: list[dict[str, Any]], h: int, w: int) -> np.ndarray:
        out = np.zeros((len(anns), h, w), bool)  # (N, H, W)
        for i, a in enumerate(anns):
            if "segmentation" not in a:
                continue
            try:
                out[i] = segmentation_to_mask(a["segmentation"], h, w)
            except Exception as e:  # pycocotools raises bare exceptions on bad RLE
                raise ValueError(f"{self.json_path.name}: annotation id {a['id']} (image "
                                 f"{self.images[index]['id']}): undecodable segmentation "
                                 f"({type(e).__name__}: {e})") from None
        return out

    def _keypoints(self, anns: list[dict[str, Any]], hw: tuple[int, int]
                   ) -> tuple[tv_tensors.KeyPoints, torch.Tensor]:
        k = self.num_keypoints
        kp = torch.zeros(len(anns), k, 3, dtype=torch.float64)
        for i, a in enumerate(anns):
            values = a.get("keypoints") or []
            if values:
                kp[i, : len(values) // 3] = torch.tensor(values, dtype=torch.float64).view(-1, 3)
        return (tv_tensors.KeyPoints(kp[:, :, :2].float(), canvas_size=hw),
                kp[:, :, 2].to(torch.uint8))

    @staticmethod
    def _ids(anns: list[dict[str, Any]]) -> torch.Tensor:
        inst = [a.get("instance_id") for a in anns]
        if all(isinstance(v, int) for v in inst) and len(set(inst)) == len(inst):
            return torch.tensor(inst, dtype=torch.int64)
        return torch.tensor([a["id"] for a in anns], dtype=torch.int64)


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Checker:
    """Structural checks of a COCO dict; every error names the file and the field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, field: str, what: str) -> NoReturn:
        raise ValueError(f"{self.name}: {field} {what}")

    def section(self, coco: Any, key: str, required: bool = True) -> list[Any]:
        if not isinstance(coco, dict):
            self.fail("top level", f"must be a JSON object, got {type(coco).__name__}")
        if key not in coco:
            if required:
                self.fail(key, "is missing")
            return []
        if not isinstance(coco[key], list):
            self.fail(key, f"must be a list, got {type(coco[key]).__name__}")
        return coco[key]

    def images(self, coco: Any) -> list[dict[str, Any]]:
        images, seen = self.section(coco, "images"), set()
        for i, img in enumerate(images):
            f = f"images[{i}]"
            if not isinstance(img, dict):
                self.fail(f, "must be an object")
            if not _is_int(img.get("id")):
                self.fail(f"{f}.id", f"must be an integer, got {img.get('id')!r}")
            if img["id"] in seen:
                self.fail(f"{f}.id", f"{img['id']} is repeated")
            seen.add(img["id"])
            if not isinstance(img.get("file_name"), str) or not img["file_name"]:
                self.fail(f"{f}.file_name", f"must be a non-empty string, got "
                          f"{img.get('file_name')!r}")
            for key in ("width", "height"):
                if not _is_int(img.get(key)) or img[key] <= 0:
                    self.fail(f"{f}.{key}", f"must be a positive integer, got {img.get(key)!r}")
        return images

    def categories(self, coco: Any) -> dict[int, dict[str, Any]]:
        cats: dict[int, dict[str, Any]] = {}
        for i, cat in enumerate(self.section(coco, "categories")):
            f = f"categories[{i}]"
            if not isinstance(cat, dict) or not _is_int(cat.get("id")):
                self.fail(f"{f}.id", "must be an integer")
            if cat["id"] in cats:
                self.fail(f"{f}.id", f"{cat['id']} is repeated")
            if not isinstance(cat.get("name"), str):
                self.fail(f"{f}.name", f"must be a string, got {cat.get('name')!r}")
            names = cat.get("keypoints", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.fail(f"{f}.keypoints", "must be a list of keypoint names")
            for j, edge in enumerate(cat.get("skeleton", [])):
                if not (isinstance(edge, list) and len(edge) == 2 and all(
                        _is_int(v) and 1 <= v <= len(names) for v in edge)):
                    self.fail(f"{f}.skeleton[{j}]", f"must be 2 keypoint numbers in "
                              f"1..{len(names)} (1-based), got {edge!r}")
            cats[cat["id"]] = cat
        return cats

    def annotations(self, coco: Any, images: list[dict[str, Any]],
                    cats: dict[int, dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        sizes = {img["id"]: (img["height"], img["width"]) for img in images}
        by_image: dict[int, list[dict[str, Any]]] = {}
        for i, ann in enumerate(self.section(coco, "annotations", required=False)):
            f = f"annotations[{i}]"
            if not isinstance(ann, dict):
                self.fail(f, "must be an object")
            if not _is_int(ann.get("id")):
                self.fail(f"{f}.id", f"must be an integer, got {ann.get('id')!r}")
            if ann.get("image_id") not in sizes:
                self.fail(f"{f}.image_id", f"{ann.get('image_id')!r} is not an id in images")
            if ann.get("category_id") not in cats:
                self.fail(f"{f}.category_id", f"{ann.get('category_id')!r} is not an id in "
                          "categories")
            self.bbox(f, ann.get("bbox"))
            if ann.get("iscrowd", 0) not in (0, 1):
                self.fail(f"{f}.iscrowd", f"must be 0 or 1, got {ann.get('iscrowd')!r}")
            if "segmentation" in ann:
                self.segmentation(f, ann["segmentation"], sizes[ann["image_id"]])
            if "keypoints" in ann:
                self.keypoints(f, ann["keypoints"], len(cats[ann["category_id"]]
                                                        .get("keypoints", [])))
            by_image.setdefault(ann["image_id"], []).append(ann)
        return by_image

    def bbox(self, f: str, bbox: Any) -> None:
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_num(v) for v in bbox):
            self.fail(f"{f}.bbox", f"must have 4 numbers [x, y, w, h], got {bbox!r}")
        if bbox[2] < 0 or bbox[3] < 0:
            self.fail(f"{f}.bbox", f"must have a non-negative width and height, got {bbox!r}")

    def segmentation(self, f: str, segm: Any, hw: tuple[int, int]) -> None:
        f = f"{f}.segmentation"
        if isinstance(segm, list):
            for j, poly in enumerate(segm):
                if not (isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
                        and all(_is_num(v) for v in poly)):
                    self.fail(f"{f}[{j}]", "must be a polygon: an even number (>= 6) of "
                              "coordinates")
            return
        if not isinstance(segm, dict) or "counts" not in segm or "size" not in segm:
            self.fail(f, "must be a list of polygons or an RLE {size, counts}")
        if list(segm["size"]) != list(hw):
            self.fail(f"{f}.size", f"must be the image's [height, width] {list(hw)}, got "
                      f"{segm['size']!r}")
        counts = segm["counts"]
        if isinstance(counts, list):
            if not all(_is_int(v) and v >= 0 for v in counts) or sum(counts) != hw[0] * hw[1]:
                self.fail(f"{f}.counts", f"uncompressed RLE must be non-negative run lengths "
                          f"summing to {hw[0] * hw[1]}")
        elif not isinstance(counts, str):
            self.fail(f"{f}.counts", f"must be a string or a list, got {type(counts).__name__}")

    def keypoints(self, f: str, values: Any, k: int) -> None:
        if not isinstance(values, list) or len(values) != 3 * k or not all(
                _is_num(v) for v in values):
            self.fail(f"{f}.keypoints", f"must have 3 * {k} numbers (its category has {k} "
                      f"keypoints), got {len(values) if isinstance(values, list) else values!r}")
        if any(v not in (0, 1, 2) for v in values[2::3]):
            self.fail(f"{f}.keypoints", "visibility flags must be 0, 1 or 2")
