"""Video files (OpenCV) and frame folders <-> ``np.ndarray[T, H, W, 3]`` uint8 RGB.

- A *path with a video suffix* (.mp4, .avi, .mov, .mkv) is a video file. Writing uses
  OpenCV's ``VideoWriter`` (.mp4 with the 'mp4v' codec, .avi with 'MJPG'), so it is
  lossy; reading uses ``VideoCapture``. OpenCV works in BGR; arrays here are RGB.
  Width and height must be even: the codecs would silently crop an odd size.
- *Any other path* is a frame folder: ``frame_00000.png``, ``frame_00001.png``, ...
  (lossless). Reading takes ``frame_*`` images if there are any, else every PNG/JPEG
  in the folder, in natural name order; every frame goes through ``read_image``.
- Writes are atomic: a video is written to a temporary file then renamed; a frame
  folder is written to a temporary folder that then takes the target's place (an old
  folder of that name is moved aside first and removed after).
- A missing path raises ``FileNotFoundError``; an unreadable or empty video, an empty
  folder or frames of different sizes raise ``ValueError`` naming the path.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision import tv_tensors

from seesall.io.atomic import fsync_dir
from seesall.io.image import read_image, write_image

VIDEO_SUFFIXES = {".mp4": "mp4v", ".avi": "MJPG", ".mov": "mp4v", ".mkv": "mp4v"}
FRAME_PATTERN = "frame_{:05d}.png"
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Suffixes of the frames of a frame folder."""


def is_video_file(path: str | os.PathLike) -> bool:
    """True when ``path`` names a video file (by suffix), False for a frame folder."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def read_video(path: str | os.PathLike, *, max_frames: int | None = None) -> np.ndarray:
    """Read a video file or frame folder -> ``ndarray[T, H, W, 3]`` uint8 RGB."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file or frame folder")
    if path.is_dir():
        return _read_frames(path, max_frames)
    return _read_video_file(path, max_frames)


def read_video_tensor(path: str | os.PathLike, *, max_frames: int | None = None
                      ) -> tv_tensors.Video:
    """Like :func:`read_video`, as ``tv_tensors.Video[T, 3, H, W]`` uint8."""
    frames = torch.from_numpy(read_video(path, max_frames=max_frames))
    return tv_tensors.Video(frames.permute(0, 3, 1, 2).contiguous())  # (T, 3, H, W)


def write_video(path: str | os.PathLike, frames: np.ndarray | torch.Tensor, *,
                fps: float = 10.0) -> None:
    """Atomically write ``frames`` (ndarray[T, H, W, 3] RGB, or Video[T, 3, H, W]) uint8 as a
    video file or a frame folder, chosen by the suffix of ``path``."""
    path = Path(path)
    array = _as_thwc(path, frames)
    if is_video_file(path):
        _write_video_file(path, array, fps)
    else:
        _write_frames(path, array)


def _read_video_file(path: Path, max_frames: int | None) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ValueError(f"{path}: OpenCV cannot open this video (corrupt or unsupported)")
        frames = []
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(bgr[:, :, ::-1])  # BGR -> RGB
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"{path}: the video has no readable frames")
    return np.ascontiguousarray(np.stack(frames))  # (T, H, W, 3)


def _natural_key(p: Path) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _read_frames(folder: Path, max_frames: int | None) -> np.ndarray:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES
                    and not p.name.startswith(".")), key=_natural_key)
    named = [p for p in files if p.name.startswith("frame_")]
    files = (named or files)[:max_frames]
    if not files:
        raise ValueError(f"{folder}: frame folder holds no PNG/JPEG frames")
    frames = [read_image(p) for p in files]
    for p, f in zip(files, frames, strict=True):
        if f.shape != frames[0].shape:
            raise ValueError(f"{p}: frame is {f.shape[1]}x{f.shape[0]} but {files[0].name} "
                             f"is {frames[0].shape[1]}x{frames[0].shape[0]}")
    return np.stack(frames)  # (T, H, W, 3)


def _write_video_file(path: Path, frames: np.ndarray, fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        t, h, w = frames.shape[:3]
        if h % 2 or w % 2:
            raise ValueError(f"{path}: OpenCV's video codecs need an even width and height "
                             f"(they crop {w}x{h} silently); use a frame folder instead")
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_SUFFIXES[path.suffix.lower()])
        writer = cv2.VideoWriter(tmp, fourcc, float(fps), (w, h))
        if not writer.isOpened():
            raise ValueError(f"{path}: OpenCV cannot write {path.suffix} video of {w}x{h}")
        for frame in frames:
            writer.write(np.ascontiguousarray(frame[:, :, ::-1]))  # RGB -> BGR
        writer.release()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _write_frames(folder: Path, frames: np.ndarray) -> None:
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder (use a video suffix for files)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    old = None
    try:
        for i, frame in enumerate(frames):
            write_image(tmp / FRAME_PATTERN.format(i), frame)
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / folder.name)
        os.replace(tmp, folder)
    except BaseException:
        if old is not None and not folder.exists():
            os.replace(old / folder.name, folder)  # put the previous frames back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _as_thwc(path: Path, frames: np.ndarray | torch.Tensor) -> np.ndarray:
    """Video[T, 3, H, W] tensors -> ndarray[T, H, W, 3]; checks dtype and shape."""
    if isinstance(frames, torch.Tensor):
        t = frames.detach().cpu().as_subclass(torch.Tensor)
        if t.ndim == 4 and t.shape[1] == 3:
            t = t.permute(0, 2, 3, 1)  # (T, H, W, 3)
        frames = t.numpy()
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[3] != 3 or 0 in arr.shape:
        raise ValueError(f"{path}: frames must have shape [T, H, W, 3] (or Video [T, 3, H, W]) "
                         f"with T, H, W > 0, got {list(arr.shape)}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{path}: frames must be uint8, got {arr.dtype}")
    return arr
