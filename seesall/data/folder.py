"""Read a folder written by ``export_scenes`` / ``export_clips`` back as full Scenes.

The COCO file gives the objects; the sibling folders (``semantic/``, ``depth/``,
``images2/``, ``flow/``) fill in the dense labels of each image when present.
Clips come from ``clips.json`` and their frame folders or video files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

from seesall.io.coco import CocoDataset
from seesall.io.flow import flow_to_tensor, read_flo, read_kitti_flow
from seesall.io.image import read_image_tensor
from seesall.io.labels import read_label_png
from seesall.io.video import read_video_tensor
from seesall.structures import Objects, Scene


class SceneFolder(Dataset):
    """Scenes (and pairs) of an exported folder, with every label it holds."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.coco = CocoDataset(self.folder)

    def __len__(self) -> int:
        return len(self.coco)

    def __getitem__(self, index: int) -> Scene:
        scene = self.coco[index]
        stem = Path(scene.file_name).stem
        changes: dict = {}
        semantic = self.folder / "semantic" / f"{stem}.png"
        if semantic.is_file():
            changes["semantic"] = tv_tensors.Mask(torch.from_numpy(read_label_png(semantic)))
        depth = self.folder / "depth" / f"{stem}.png"
        if depth.is_file():
            changes["depth"] = tv_tensors.Mask(torch.from_numpy(_read_depth(depth)))
        image2 = self.folder / "images2" / f"{stem}.png"
        if image2.is_file():
            changes["image2"] = read_image_tensor(image2)
        changes.update(_read_flow(self.folder / "flow", stem))
        return scene.replace(**changes)


class ClipFolder(Dataset):
    """Clips of an exported folder: video, action label and per-frame tracks (MOT gt.txt)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        path = self.folder / "clips.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no clips.json in this folder")
        try:
            meta = json.loads(path.read_text())
            self.actions: list[str] = list(meta["actions"])
            self.entries: list[dict] = [dict(e) for e in meta["clips"]]
            for i, e in enumerate(self.entries):
                if not isinstance(e.get("path"), str) or not isinstance(e.get("id"), int):
                    raise ValueError(f"clips[{i}] needs an int 'id' and a str 'path'")
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: malformed clips file ({e})") from None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Scene:
        entry = self.entries[index]
        video = read_video_tensor(self.folder / entry["path"])
        h, w = video.shape[-2:]
        gt = self.folder / "clips" / f"{entry['id']:06d}" / "gt.txt"
        frame_objects = read_mot(gt, len(video), (h, w)) if gt.is_file() else None
        objects = frame_objects[0] if frame_objects else Objects.empty((h, w))
        return Scene(image=tv_tensors.Image(video[0]), objects=objects, video=video,
                     frame_objects=frame_objects, action=entry.get("action"),
                     image_id=entry["id"], file_name=str(self.folder / entry["path"]))


def read_mot(path: Path, num_frames: int, canvas_size: tuple[int, int]) -> list[Objects]:
    """MOTChallenge gt.txt -> one Objects per frame (ids = track ids, labels = class column)."""
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as e:
        raise ValueError(f"{path}: malformed MOT file ({e})") from None
    if rows.size and rows.shape[1] < 8:
        raise ValueError(f"{path}: MOT rows need at least 8 columns, got {rows.shape[1]}")
    out = []
    for t in range(1, num_frames + 1):
        r = rows[rows[:, 0] == t] if rows.size else rows.reshape(0, 9)
        xywh = torch.from_numpy(r[:, 2:6]).float()
        boxes = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
        out.append(Objects(labels=torch.from_numpy(r[:, 7]).long(),
                           boxes=tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas_size),
                           ids=torch.from_numpy(r[:, 1]).long()))
    return out


def _read_depth(path: Path) -> np.ndarray:
    values = np.asarray(Image.open(path))
    if values.dtype != np.uint16 and values.dtype != np.int32:
        raise ValueError(f"{path}: a depth PNG must be 16-bit, got {values.dtype}")
    return values.astype(np.float32) / 256.0


def _read_flow(folder: Path, stem: str) -> dict:
    flo, kitti = folder / f"{stem}.flo", folder / f"{stem}.png"
    if flo.is_file():  # full precision, invalid pixels marked as unknown
        flow, valid = read_flo(flo)
    elif kitti.is_file():
        flow, valid = read_kitti_flow(kitti)
    else:
        return {}
    f, v = flow_to_tensor(flow, valid)
    return {"flow": f, "flow_valid": v}
