"""Cityscapes-style label PNGs.

- Semantic label PNG (``*_labelIds.png``): 8-bit single-channel, the value of a pixel is
  its class id; 255 (``IGNORE_INDEX``) means "no label". Read as ``np.ndarray[H, W]``
  int64 (the dtype of ``Scene.semantic``). 8-bit palette PNGs (as VOC's
  ``SegmentationClass``) are read by their palette *indices*, which are the ids.
  Colour (RGB) label images are refused: their ids are not recoverable without a palette.
- Instance-id PNG (``*_instanceIds.png``): 16-bit single-channel; a pixel of a *thing*
  holds ``class_id * 1000 + k`` (k = 0, 1, ... numbers the instances of that class in
  the image), a pixel of *stuff* (or of a thing without an instance) holds ``class_id``.
  Read as ``np.ndarray[H, W]`` int64; ``decode_instance_ids`` splits it.

Both round-trip exactly; writes are atomic.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from seesall.io.atomic import write_bytes

INSTANCE_OFFSET = 1000
"""Cityscapes: instance-id pixel = class_id * 1000 + instance number."""


def write_label_png(path: str | os.PathLike, labels: np.ndarray | torch.Tensor) -> None:
    """Atomically write class ids (``[H, W]`` integers in 0..255) as an 8-bit PNG."""
    path = Path(path)
    arr = _as_2d(path, labels)
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"{path}: label ids must lie in 0..255 for an 8-bit PNG, got "
                         f"{arr.min()}..{arr.max()}")
    write_bytes(path, _png(Image.fromarray(arr.astype(np.uint8))))


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read an 8-bit single-channel (grey or palette) label PNG -> ``ndarray[H, W]`` int64."""
    path = Path(path)
    img = _open(path)
    if img.mode not in ("L", "P"):
        raise ValueError(f"{path}: a label PNG must be 8-bit single-channel (mode L or P), "
                         f"got mode {img.mode}")
    return np.asarray(img).astype(np.int64)


def write_instance_png(path: str | os.PathLike, ids: np.ndarray | torch.Tensor) -> None:
    """Atomically write instance ids (``[H, W]`` integers in 0..65535) as a 16-bit PNG."""
    path = Path(path)
    arr = _as_2d(path, ids)
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise ValueError(f"{path}: instance ids must lie in 0..65535 for a 16-bit PNG, got "
                         f"{arr.min()}..{arr.max()}")
    write_bytes(path, _png(Image.fromarray(arr.astype(np.uint16))))


def read_instance_png(path: str | os.PathLike) -> np.ndarray:
    """Read a 16-bit (or 8-bit) single-channel instance-id PNG -> ``ndarray[H, W]`` int64."""
    path = Path(path)
    img = _open(path)
    if not (img.mode.startswith("I;16") or img.mode in ("I", "L")):
        raise ValueError(f"{path}: an instance-id PNG must be single-channel 16-bit, "
                         f"got mode {img.mode}")
    return np.asarray(img).astype(np.int64)


def encode_instance_ids(semantic: np.ndarray, masks: np.ndarray, classes: np.ndarray
                        ) -> np.ndarray:
    """Cityscapes instance ids from a semantic map and instance masks.

    Args:
        semantic: ndarray[H, W] class ids (every pixel's value when no mask covers it).
        masks: ndarray[N, H, W] bool, one per thing instance (a later mask wins on overlap).
        classes: ndarray[N] class id of each instance (the semantic id, not a thing label).

    Returns:
        ndarray[H, W] int64: ``classes[i] * 1000 + k`` on instance i's pixels, where k
        counts the earlier instances of the same class; ``semantic`` elsewhere.
    """
    semantic, masks, classes = (np.asarray(a) for a in (semantic, masks, classes))
    if masks.ndim != 3 or masks.shape[1:] != semantic.shape or classes.shape != masks.shape[:1]:
        raise ValueError(f"need semantic [H, W], masks [N, H, W], classes [N]; got "
                         f"{list(semantic.shape)}, {list(masks.shape)}, {list(classes.shape)}")
    out = semantic.astype(np.int64).copy()
    counts: dict[int, int] = {}
    for mask, cls in zip(masks.astype(bool), classes.tolist(), strict=True):
        k = counts.get(int(cls), 0)
        counts[int(cls)] = k + 1
        out[mask] = int(cls) * INSTANCE_OFFSET + k
    return out


def decode_instance_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split Cityscapes instance ids -> (class ids [H, W], instance numbers [H, W]).

    Instance numbers are ``k + 1`` on thing pixels (so 0 means "no instance").
    """
    ids = np.asarray(ids, dtype=np.int64)
    thing = ids >= INSTANCE_OFFSET
    classes = np.where(thing, ids // INSTANCE_OFFSET, ids)
    instances = np.where(thing, ids % INSTANCE_OFFSET + 1, 0)
    return classes, instances


def _as_2d(path: Path, labels: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().as_subclass(torch.Tensor).numpy()
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(f"{path}: a label map must have shape [H, W], got {list(arr.shape)}")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise ValueError(f"{path}: a label map must hold integers, got {arr.dtype}")
    return arr.astype(np.int64)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such label file")
    try:
        with Image.open(path, formats=("PNG",)) as img:
            img.load()
            return img.copy()
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not a PNG file") from None
    except Image.DecompressionBombError as e:
        raise ValueError(f"{path}: refused as a possible decompression bomb ({e})") from None
    except (OSError, SyntaxError, EOFError, ValueError) as e:
        raise ValueError(f"{path}: corrupt or truncated PNG ({type(e).__name__}: {e})") from None
