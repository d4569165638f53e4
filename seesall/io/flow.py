"""Optical flow files: Middlebury ``.flo`` and KITTI 16-bit flow PNGs.

Arrays are ``np.ndarray[H, W, 2]`` float32 holding (u, v) in pixels from frame 1 to
frame 2, with ``valid`` an ``np.ndarray[H, W]`` bool. Use :func:`flow_to_tensor` for
the data model's ``Flow[2, H, W]`` / ``Mask[H, W]``.

- ``.flo`` (Middlebury): little-endian float32 magic 202021.25, int32 width, int32
  height, then H x W x 2 float32 (u, v interleaved, row major). Exact round trip.
  The format has no valid mask; Middlebury marks unknown flow with values > 1e9,
  which :func:`read_flo` reports as invalid (and :func:`write_flo` writes for
  invalid pixels when a mask is given).
- KITTI PNG: 3-channel 16-bit PNG whose channels (R, G, B) are
  (u * 64 + 2**15, v * 64 + 2**15, valid); invalid pixels store 0, 0, 0 as in the
  KITTI devkit. Values are rounded to 1/64 px and clipped to [-512, 512) px.
  OpenCV stores pixels as BGR, so channel 2 of the decoded array is u.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision import tv_tensors

from seesall.io.atomic import write_bytes
from seesall.structures.flow import Flow

FLO_MAGIC = 202021.25
FLO_UNKNOWN = 1e9
"""Middlebury: a component above this marks a pixel without flow."""
_MAX_SIDE = 1 << 16


def read_flo(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a Middlebury ``.flo`` file -> (flow ndarray[H, W, 2] float32, valid ndarray[H, W] bool).

    Invalid (unknown, > 1e9 or non-finite) vectors are set to 0 and marked invalid.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 12:
        raise ValueError(f"{path}: truncated .flo header ({len(data)} bytes, need 12)")
    magic = np.frombuffer(data, "<f4", count=1)[0]
    if magic != np.float32(FLO_MAGIC):
        raise ValueError(f"{path}: not a .flo file (magic {magic!r}, expected {FLO_MAGIC})")
    w, h = (int(v) for v in np.frombuffer(data, "<i4", count=2, offset=4))
    if not (0 < w < _MAX_SIDE and 0 < h < _MAX_SIDE):
        raise ValueError(f"{path}: implausible .flo size width={w} height={h}")
    expected = 12 + h * w * 2 * 4
    if len(data) != expected:
        raise ValueError(f"{path}: .flo of {w}x{h} needs {expected} bytes, file has {len(data)}")
    flow = np.frombuffer(data, "<f4", offset=12).reshape(h, w, 2).astype(np.float32)  # (H, W, 2)
    valid = np.isfinite(flow).all(axis=2) & (np.abs(flow) <= FLO_UNKNOWN).all(axis=2)
    flow[~valid] = 0.0
    return flow, valid


def write_flo(path: str | os.PathLike, flow: np.ndarray, valid: np.ndarray | None = None) -> None:
    """Atomically write ``flow`` (ndarray[H, W, 2]) as ``.flo``; invalid pixels get 1e10."""
    path = Path(path)
    flow = _check_flow(path, flow, valid)
    if valid is not None:
        flow = flow.copy()
        flow[~np.asarray(valid, bool)] = 1e10
    h, w = flow.shape[:2]
    header = np.array([FLO_MAGIC], "<f4").tobytes() + np.array([w, h], "<i4").tobytes()
    write_bytes(path, header + flow.astype("<f4").tobytes())


def read_kitti_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI flow PNG -> (flow ndarray[H, W, 2] float32, valid ndarray[H, W] bool).

    Invalid pixels have flow 0.
    """
    path = Path(path)
    raw = cv2.imdecode(np.frombuffer(_read_bytes(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f"{path}: not a readable PNG (corrupt, truncated or another format)")
    if raw.dtype != np.uint16 or raw.ndim != 3 or raw.shape[2] != 3:
        raise ValueError(f"{path}: a KITTI flow PNG is 16-bit with 3 channels, got "
                         f"{raw.dtype} with shape {list(raw.shape)}")
    rgb = raw[:, :, ::-1].astype(np.float32)  # OpenCV BGR -> (u, v, valid)
    valid = rgb[:, :, 2] > 0
    flow = (rgb[:, :, :2] - 2.0**15) / 64.0
    flow[~valid] = 0.0
    return flow.astype(np.float32), valid


def write_kitti_flow(path: str | os.PathLike, flow: np.ndarray,
                     valid: np.ndarray | None = None) -> None:
    """Atomically write ``flow`` (ndarray[H, W, 2]) and ``valid`` (default: all) as a KITTI PNG."""
    path = Path(path)
    flow = _check_flow(path, flow, valid)
    if valid is None:
        valid = np.isfinite(flow).all(axis=2)
    valid = np.asarray(valid, bool)
    enc = np.round(np.nan_to_num(flow).astype(np.float64) * 64.0 + 2.0**15)  # float64: exact
    enc = np.clip(enc, 0, 65535).astype(np.uint16)
    enc[~valid] = 0
    rgb = np.concatenate([enc, valid[:, :, None].astype(np.uint16)], axis=2)  # (H, W, 3)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))  # RGB -> BGR
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the flow PNG")
    write_bytes(path, buf.tobytes())


def read_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``.flo`` or KITTI ``.png`` flow by suffix -> (flow [H, W, 2], valid [H, W])."""
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        return read_flo(path)
    if suffix == ".png":
        return read_kitti_flow(path)
    raise ValueError(f"{path}: unknown flow file suffix {suffix!r} (use .flo or .png)")


def write_flow(path: str | os.PathLike, flow: np.ndarray, valid: np.ndarray | None = None) -> None:
    """Write ``.flo`` or KITTI ``.png`` flow by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        write_flo(path, flow, valid)
    elif suffix == ".png":
        write_kitti_flow(path, flow, valid)
    else:
        raise ValueError(f"{path}: unknown flow file suffix {suffix!r} (use .flo or .png)")


def flow_to_tensor(flow: np.ndarray, valid: np.ndarray) -> tuple[Flow, tv_tensors.Mask]:
    """ndarray[H, W, 2] + ndarray[H, W] -> (Flow[2, H, W] float32, Mask[H, W] bool)."""
    f = torch.from_numpy(np.ascontiguousarray(flow, np.float32)).permute(2, 0, 1)  # (2, H, W)
    return Flow(f.contiguous()), tv_tensors.Mask(torch.from_numpy(np.asarray(valid, bool)))


def flow_to_numpy(flow: torch.Tensor, valid: torch.Tensor | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Flow[2, H, W] (+ Mask[H, W]) -> (ndarray[H, W, 2] float32, ndarray[H, W] bool)."""
    f = flow.detach().cpu().as_subclass(torch.Tensor).permute(1, 2, 0).numpy()  # (H, W, 2)
    v = (np.ones(f.shape[:2], bool) if valid is None
         else valid.detach().cpu().as_subclass(torch.Tensor).numpy().astype(bool))
    return np.ascontiguousarray(f, np.float32), v


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such flow file")
    return path.read_bytes()


def _check_flow(path: Path, flow: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[0] == 0 or flow.shape[1] == 0:
        raise ValueError(f"{path}: flow must have shape [H, W, 2], got {list(flow.shape)}")
    if not np.issubdtype(flow.dtype, np.floating):
        raise ValueError(f"{path}: flow must be floating point, got {flow.dtype}")
    if valid is not None and np.asarray(valid).shape != flow.shape[:2]:
        raise ValueError(f"{path}: valid must have shape {list(flow.shape[:2])}, "
                         f"got {list(np.asarray(valid).shape)}")
    return flow.astype(np.float32)
