"""Pascal VOC XML annotations <-> Objects.

Box convention: VOC ``bndbox`` values are 1-based *inclusive* pixel indices, so a box
covering pixel columns i..j (0-based) is written ``xmin = i + 1, xmax = j + 1``. With
seesall's continuous XYXY (a pixel i spans [i, i + 1)), the conversion is

    xmin = round(x1) + 1, ymin = round(y1) + 1, xmax = round(x2), ymax = round(y2)
    x1 = xmin - 1,        y1 = ymin - 1,        x2 = xmax,        y2 = ymax

(the same as detectron2's VOC loader). Writing rounds to whole pixels, so a round trip
moves each coordinate by at most 0.5 px and leaves pixel-aligned boxes unchanged.
Reading clips boxes to the image when they stick out by at most 1 px (files written
with 0-based coordinates do) and refuses boxes further out.

``difficult`` and ``truncated`` have no place in Objects and travel beside it in
:class:`VocAnnotation`; ``pose`` is written as "Unspecified".
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torchvision import tv_tensors

from seesall.io.atomic import write_bytes
from seesall.structures import Objects

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
"""The 20 Pascal VOC classes, the default ``class_names``."""


@dataclass
class VocAnnotation:
    """One VOC XML file.

    Attributes:
        objects: labels (index into ``class_names``) and XYXY boxes.
        difficult: Tensor[N] bool.
        truncated: Tensor[N] bool.
        file_name: the ``filename`` element.
        size: (H, W, depth) from the ``size`` element.
    """

    objects: Objects
    difficult: Tensor
    truncated: Tensor
    file_name: str
    size: tuple[int, int, int]


def write_voc(
    path: str | os.PathLike,
    objects: Objects,
    *,
    file_name: str,
    class_names: Sequence[str] = VOC_CLASSES,
    difficult: Tensor | None = None,
    truncated: Tensor | None = None,
    folder: str = "",
    depth: int = 3,
) -> None:
    """Atomically write ``objects`` as a VOC XML file (boxes by the module's convention)."""
    path = Path(path)
    n = len(objects)
    flags = {"difficult": difficult, "truncated": truncated}
    for key, value in flags.items():
        if value is not None and value.shape != (n,):
            raise ValueError(f"{path}: {key} must have shape [{n}], got {list(value.shape)}")
    h, w = objects.canvas_size
    root = ET.Element("annotation")
    _sub(root, "folder", folder)
    _sub(root, "filename", file_name)
    size = ET.SubElement(root, "size")
    for key, value in (("width", w), ("height", h), ("depth", depth)):
        _sub(size, key, str(value))
    _sub(root, "segmented", "0")
    boxes = objects.boxes.as_subclass(Tensor).double().round().long().tolist()
    for i in range(n):
        label = int(objects.labels[i])
        if not 0 <= label < len(class_names):
            raise ValueError(f"{path}: objects.labels[{i}] = {label} has no class name "
                             f"({len(class_names)} classes)")
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", class_names[label])
        _sub(obj, "pose", "Unspecified")
        for key, value in flags.items():
            _sub(obj, key, str(int(bool(value[i]))) if value is not None else "0")
        box = ET.SubElement(obj, "bndbox")
        x1, y1, x2, y2 = boxes[i]
        for key, value in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
            _sub(box, key, str(value))
    ET.indent(root)
    write_bytes(path, ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n")


def read_voc(path: str | os.PathLike, class_names: Sequence[str] = VOC_CLASSES) -> VocAnnotation:
    """Read a VOC XML file; errors name the file and the element."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such VOC annotation file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not well-formed XML ({e})") from None
    if root.tag != "annotation":
        raise ValueError(f"{path}: root element must be <annotation>, got <{root.tag}>")
    w, h = _int(path, root, "size/width"), _int(path, root, "size/height")
    depth = _int(path, root, "size/depth") if root.find("size/depth") is not None else 3
    if w <= 0 or h <= 0:
        raise ValueError(f"{path}: size must be positive, got width={w} height={h}")
    index = {name: i for i, name in enumerate(class_names)}
    labels, boxes, difficult, truncated = [], [], [], []
    for i, obj in enumerate(root.findall("object")):
        where = f"object[{i}]"
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            raise ValueError(f"{path}: {where}/name {name!r} is not one of the class names")
        labels.append(index[name])
        xmin, ymin, xmax, ymax = (_num(path, obj, f"bndbox/{k}", where)
                                  for k in ("xmin", "ymin", "xmax", "ymax"))
        box = [xmin - 1, ymin - 1, xmax, ymax]
        if not (-1 <= box[0] <= box[2] <= w + 1 and -1 <= box[1] <= box[3] <= h + 1):
            raise ValueError(f"{path}: {where}/bndbox {[xmin, ymin, xmax, ymax]} is not a box "
                             f"inside the {w}x{h} image (1-based, inclusive)")
        boxes.append([min(max(v, 0), lim) for v, lim in zip(box, (w, h, w, h), strict=True)])
        difficult.append(_flag(path, obj, "difficult", where))
        truncated.append(_flag(path, obj, "truncated", where))
    objects = Objects(
        labels=torch.tensor(labels, dtype=torch.int64),
        boxes=tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
                                       format="XYXY", canvas_size=(h, w)),
    )
    return VocAnnotation(objects, torch.tensor(difficult, dtype=torch.bool),
                         torch.tensor(truncated, dtype=torch.bool),
                         root.findtext("filename", "").strip(), (h, w, depth))


def _sub(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _num(path: Path, node: ET.Element, tag: str, where: str = "") -> float:
    text = node.findtext(tag)
    field = f"{where}/{tag}" if where else tag
    if text is None:
        raise ValueError(f"{path}: {field} is missing")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}: {field} must be a number, got {text!r}") from None


def _int(path: Path, node: ET.Element, tag: str) -> int:
    value = _num(path, node, tag)
    if value != int(value):
        raise ValueError(f"{path}: {tag} must be an integer, got {value}")
    return int(value)


def _flag(path: Path, obj: ET.Element, tag: str, where: str) -> bool:
    text = (obj.findtext(tag) or "0").strip()
    if text not in ("0", "1"):
        raise ValueError(f"{path}: {where}/{tag} must be 0 or 1, got {text!r}")
    return text == "1"
