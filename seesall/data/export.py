"""Write scenes, pairs and clips as a dataset in the standard formats.

Layout of an exported folder (every file written atomically):

    meta.json                 class tables: things, semantic, keypoints, skeleton, actions
    images/000000.png         the image (the first frame of a pair)
    annotations.json          COCO: boxes, RLE masks, keypoints, categories   (scenes, pairs)
    semantic/000000.png       Cityscapes-style label ids, 255 = ignore          (when labelled)
    instances/000000.png      Cityscapes-style instance ids (class * 1000 + k)  (when masks)
    depth/000000.png          16-bit depth * 256, 0 = unknown (KITTI depth)     (when labelled)
    images2/000000.png        the second frame of a pair
    flow/000000.flo           Middlebury flow, frame 1 -> frame 2 (invalid pixels: unknown)
    flow/000000.png           the same flow as a KITTI 16-bit PNG with its valid mask
    clips/000000/frame_00000.png ...   frames of a clip (or clips/000000.mp4)
    clips/000000/gt.txt       MOTChallenge ground truth: frame, id, x, y, w, h, 1, class, 1
    clips.json                {"actions": [...], "clips": [{"id", "path", "action", "action_name"}]}
"""

from __future__ import annotations

import io as _io
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

from seesall.io.atomic import write_bytes, write_json, write_text
from seesall.io.coco import write_coco
from seesall.io.flow import flow_to_numpy, write_flo, write_kitti_flow
from seesall.io.image import write_image
from seesall.io.labels import encode_instance_ids, write_instance_png, write_label_png
from seesall.io.video import write_video
from seesall.structures import Objects, Scene


@dataclass(frozen=True)
class ClassTables:
    """The names a dataset's labels refer to (saved as ``meta.json``)."""

    things: tuple[str, ...]
    semantic: tuple[str, ...] = ()
    stuff_count: int = 0
    keypoints: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    keypoint_labels: tuple[int, ...] = ()
    actions: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


def write_meta(out: str | os.PathLike, tables: ClassTables) -> None:
    write_json(Path(out) / "meta.json", asdict(tables), indent=1)


def read_meta(folder: str | os.PathLike) -> ClassTables | None:
    """The class tables of an exported folder, or None when it has no ``meta.json``."""
    import json

    path = Path(folder) / "meta.json"
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        d["skeleton"] = tuple(tuple(p) for p in d.get("skeleton", ()))
        return ClassTables(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
    except (ValueError, TypeError) as e:
        raise ValueError(f"{path}: not a seesall meta file ({e})") from None


def export_scenes(scenes: Iterable[Scene], out: str | os.PathLike, tables: ClassTables,
                  *, mask_format: str = "rle") -> int:
    """Write images, COCO annotations, label maps, depth and (for pairs) flow. Returns the count."""
    out = Path(out)
    written: list[Scene] = []
    for scene in scenes:
        stem = f"{scene.image_id:06d}"
        scene = scene.replace(file_name=f"{stem}.png")
        write_image(out / "images" / scene.file_name, scene.image)
        _write_dense(out, stem, scene, tables)
        if scene.image2 is not None:
            write_image(out / "images2" / f"{stem}.png", scene.image2)
        if scene.flow is not None:
            flow, valid = flow_to_numpy(scene.flow, scene.flow_valid)
            write_flo(out / "flow" / f"{stem}.flo", flow, valid)
            write_kitti_flow(out / "flow" / f"{stem}.png", flow, valid)
        written.append(_without_pixels(scene))
    write_coco(out / "annotations.json", written, class_names=tables.things, mask_format=mask_format,
               keypoint_names=tables.keypoints or None, skeleton=tables.skeleton or None,
               keypoint_labels=tables.keypoint_labels or None)
    write_meta(out, tables)
    return len(written)


def export_clips(clips: Iterable[Scene], out: str | os.PathLike, tables: ClassTables,
                 *, video_format: str = "frames") -> int:
    """Write clips as frame folders (or mp4) + MOT ground truth + ``clips.json``. Returns the count."""
    if video_format not in ("frames", "mp4"):
        raise ValueError(f"video_format must be 'frames' or 'mp4', got {video_format!r}")
    out = Path(out)
    entries = []
    for clip in clips:
        if clip.video is None:
            raise ValueError(f"scene {clip.image_id} has no video to export as a clip")
        stem = f"{clip.image_id:06d}"
        frames = clip.video.as_subclass(Tensor).permute(0, 2, 3, 1).numpy()  # (T, H, W, 3)
        path = f"clips/{stem}.mp4" if video_format == "mp4" else f"clips/{stem}"
        write_video(out / path, frames)
        if clip.frame_objects is not None:
            write_text(out / "clips" / stem / "gt.txt", mot_lines(clip.frame_objects))
        action = clip.action
        entries.append({"id": clip.image_id, "path": path, "action": action,
                        "action_name": None if action is None else tables.actions[action]})
    write_json(out / "clips.json", {"actions": list(tables.actions), "clips": entries}, indent=1)
    write_meta(out, tables)
    return len(entries)


def mot_lines(frame_objects: Sequence[Objects]) -> str:
    """MOTChallenge gt.txt: ``frame, id, x, y, w, h, conf, class, visibility`` (frames from 1)."""
    rows = []
    for t, objs in enumerate(frame_objects):
        ids = objs.ids.tolist() if objs.ids is not None else list(range(1, len(objs) + 1))
        for i, (x1, y1, x2, y2), c in zip(ids, objs.boxes.tolist(), objs.labels.tolist()):
            rows.append(f"{t + 1},{i},{x1:g},{y1:g},{x2 - x1:g},{y2 - y1:g},1,{c},1")
    return "\n".join(rows) + "\n"


def _write_dense(out: Path, stem: str, scene: Scene, tables: ClassTables) -> None:
    if scene.semantic is not None:
        semantic = scene.semantic.as_subclass(Tensor).numpy()
        write_label_png(out / "semantic" / f"{stem}.png", semantic)
        objs = scene.objects
        if objs.masks is not None and len(objs):
            classes = objs.labels.numpy() + tables.stuff_count
            ids = encode_instance_ids(semantic, objs.masks.as_subclass(Tensor).numpy(), classes)
            write_instance_png(out / "instances" / f"{stem}.png", ids)
    if scene.depth is not None:
        depth = scene.depth.as_subclass(Tensor).numpy()
        write_bytes(out / "depth" / f"{stem}.png", _depth_png(depth))


def _depth_png(depth: np.ndarray) -> bytes:
    """KITTI depth-map convention: uint16 = round(depth * 256), 0 where unknown."""
    d = np.nan_to_num(depth, nan=0.0, posinf=0.0)
    values = np.clip(np.round(d * 256.0), 0, 65535).astype(np.uint16)
    buf = _io.BytesIO()
    Image.fromarray(values).save(buf, format="PNG")
    return buf.getvalue()


def _without_pixels(scene: Scene) -> Scene:
    """Drop the dense maps (frame 2, flow, semantic, depth): the COCO writer reads only the rest."""
    return Scene(image=scene.image, objects=scene.objects, image_id=scene.image_id,
                 file_name=scene.file_name)
