"""``seesall show PATH``: a preview picture of any dataset or file in a supported format."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import torch
from torchvision import tv_tensors

from seesall.data.export import ClassTables, read_meta
from seesall.data.folder import ClipFolder, SceneFolder
from seesall.io.coco import CocoDataset
from seesall.io.flow import read_flow
from seesall.io.image import read_image_tensor
from seesall.io.labels import read_label_png
from seesall.io.video import is_video_file, read_video_tensor
from seesall.io.voc import VOC_CLASSES, read_voc
from seesall.structures import Objects, Scene
from seesall.viz import clip_strip, colorize_semantic, flow_to_color, save_png
from seesall.viz.preview import Names, dataset_preview

HELP = "Render a preview PNG of a dataset folder, COCO file, VOC XML, label PNG, flow file or video."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a folder written by `seesall world`, a COCO .json, a VOC .xml, "
                                                "a label PNG, a .flo / KITTI flow PNG, a video file or frame folder")
    parser.add_argument("--out", type=Path, help="where to write the PNG (default: PATH/preview.png for a folder, "
                                                 "PATH.preview.png for a file)")
    parser.add_argument("--n", type=int, default=4, help="how many samples of a dataset to show")
    parser.add_argument("--num-classes", type=int, default=0,
                        help="number of classes of a label PNG (default: its largest id + 1)")


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    picture = _render(path, args)
    out = args.out or (path / "preview.png" if path.is_dir() else path.with_name(path.name + ".preview.png"))
    save_png(picture, out)
    print(f"wrote {out}")
    return 0


def _render(path: Path, args: argparse.Namespace) -> torch.Tensor:
    if path.is_dir():
        if (path / "annotations.json").is_file():
            return _scenes(SceneFolder(path), _names(read_meta(path), None), args.n)
        if (path / "clips.json").is_file():
            return _clips(ClipFolder(path), _names(read_meta(path), None), args.n)
        return clip_strip(_subsample(read_video_tensor(path), 8))
    suffix = path.suffix.lower()
    if suffix == ".json":
        coco = CocoDataset(path)
        return _scenes(coco, Names(things=coco.class_names, skeleton=coco.skeleton or ()), args.n)
    if suffix == ".xml":
        return _voc(path)
    if suffix == ".flo" or (suffix == ".png" and _is_kitti_flow(path)):
        flow, valid = read_flow(path)
        return flow_to_color(torch.from_numpy(flow).permute(2, 0, 1), valid=torch.from_numpy(valid))
    if suffix == ".png":
        labels = torch.from_numpy(read_label_png(path))
        n = args.num_classes or int(labels[labels != 255].max().item() + 1 if (labels != 255).any() else 1)
        return colorize_semantic(labels, n)
    if is_video_file(path):
        return clip_strip(_subsample(read_video_tensor(path), 8))
    raise ValueError(f"{path}: no preview for files ending in {suffix!r}")


def _names(meta: ClassTables | None, fallback: list[str] | None) -> Names:
    if meta is None:
        return Names(things=fallback or [])
    return Names(things=meta.things, semantic=meta.semantic, actions=meta.actions, skeleton=meta.skeleton)


def _scenes(dataset, names: Names, n: int) -> torch.Tensor:
    if not names.things and hasattr(dataset, "coco"):
        names = Names(things=dataset.coco.class_names, skeleton=dataset.coco.skeleton or ())
    scenes = [dataset[i] for i in range(min(n, len(dataset)))]
    if not scenes:
        raise ValueError("the dataset has no images to show")
    return dataset_preview(scenes, names)


def _clips(dataset: ClipFolder, names: Names, n: int) -> torch.Tensor:
    if not names.actions:
        names = Names(things=names.things, actions=dataset.actions)
    return _scenes(dataset, names, n)


def _voc(path: Path) -> torch.Tensor:
    ann = read_voc(path)
    candidates = [path.parent / ann.file_name, path.parent.parent / "JPEGImages" / ann.file_name]
    image_path = next((p for p in candidates if p.is_file()), None)
    h, w = ann.size[:2]
    blank = tv_tensors.Image(torch.full((3, h, w), 255, dtype=torch.uint8))
    image = read_image_tensor(image_path) if image_path else blank
    scene = Scene(image=image, objects=_on_canvas(ann.objects, image.shape[-2:]))
    return dataset_preview([scene], Names(things=VOC_CLASSES))


def _on_canvas(objects: Objects, size: torch.Size) -> Objects:
    boxes = tv_tensors.BoundingBoxes(objects.boxes.as_subclass(torch.Tensor), format="XYXY", canvas_size=tuple(size))
    return Objects(labels=objects.labels, boxes=boxes)


def _is_kitti_flow(path: Path) -> bool:
    """KITTI flow PNGs are the only 16-bit three-channel PNGs among the supported files."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return img is not None and img.dtype == "uint16" and img.ndim == 3


def _subsample(video: torch.Tensor, count: int) -> torch.Tensor:
    idx = torch.linspace(0, video.shape[0] - 1, min(count, video.shape[0])).round().long()
    return video.as_subclass(torch.Tensor)[idx]

