"""Safe image decoding and atomic image writing.

Contract of :func:`read_image` (every image seesall reads goes through it):

- Returns ``np.ndarray[H, W, 3]`` uint8 RGB (``read_image_tensor``: ``Image[3, H, W]``).
- Formats: PNG, JPEG, BMP, GIF, TIFF, WebP, PPM/PGM. Anything else (or bytes no
  decoder recognises) raises ``ValueError("<file>: unknown or unsupported image format")``.
- Corrupt or truncated data raises ``ValueError("<file>: corrupt or truncated image ...")``;
  truncated files are never padded with grey (``ImageFile.LOAD_TRUNCATED_IMAGES`` is refused).
- Decompression bombs: an image whose header declares more than ``max_pixels``
  pixels (default 89,478,485, Pillow's own limit) raises ``ValueError`` *before* any
  pixel is decoded; Pillow's ``DecompressionBombWarning`` is turned into the same error.
- EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so pixels come out
  the way a viewer shows them.
- Conversions to RGB, by Pillow mode:
    * ``L`` / ``1`` (grey, bilevel): the grey value is copied to R, G and B.
    * ``P`` (palette): looked up in the palette; a transparent palette entry is
      handled like RGBA below.
    * ``RGBA`` / ``LA`` / ``PA`` / ``RGBa``: composited over ``background`` (default black):
      ``out = (rgb * a + background * (255 - a) + 127) // 255``.
    * ``CMYK`` / ``YCbCr`` / ``LAB`` / ``HSV``: Pillow's ``convert("RGB")``.
    * 16-bit (``I;16*`` grey, ``I`` with values in [0, 65535], and 16-bit colour PNGs,
      which Pillow already reduces this way): each sample ``v`` becomes ``v >> 8``
      (its high byte, so 257 * k maps back to k); ``I`` values outside [0, 65535] are clipped.
    * ``F`` (float) images: ``ValueError`` (no unambiguous 8-bit scaling exists).
- Multi-frame files (GIF, TIFF): the first frame.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from torchvision import tv_tensors

from seesall.io.atomic import write_bytes

DEFAULT_MAX_PIXELS = 89_478_485
"""Largest W * H :func:`read_image` decodes by default (Pillow's ``MAX_IMAGE_PIXELS``)."""

ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}


def read_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Decode an image file into ``np.ndarray[H, W, 3]`` uint8 RGB (see the module contract).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unknown format, corrupt/truncated data, too many pixels, float pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise ValueError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated images would "
                         "be padded silently; unset it to read images with seesall")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=ALLOWED_FORMATS) as img:
                _check_pixels(path, img.size, max_pixels)
                img = ImageOps.exif_transpose(img)  # loads (decodes) the pixels
                return _to_rgb(path, img, background)
        except UnidentifiedImageError:
            raise ValueError(f"{path}: unknown or unsupported image format "
                             f"(readable: {', '.join(ALLOWED_FORMATS)})") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ValueError(f"{path}: refused as a possible decompression bomb ({e})") from None
        except (OSError, SyntaxError, EOFError, ValueError) as e:
            if isinstance(e, ValueError) and str(e).startswith(str(path)):
                raise
            raise ValueError(f"{path}: corrupt or truncated image ({type(e).__name__}: {e})") from None


def read_image_tensor(path: str | os.PathLike, **kwargs: object) -> tv_tensors.Image:
    """Like :func:`read_image`, as ``tv_tensors.Image[3, H, W]`` uint8."""
    array = read_image(path, **kwargs)  # type: ignore[arg-type]
    return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1))


def _check_pixels(path: Path, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"{path}: image has an empty size {w}x{h}")
    if w * h > max_pixels:
        raise ValueError(f"{path}: refused as a possible decompression bomb: {w}x{h} = "
                         f"{w * h} pixels > max_pixels={max_pixels}")


def _to_rgb(path: Path, img: Image.Image, background: tuple[int, int, int]) -> np.ndarray:
    """Pillow image of any mode -> ndarray[H, W, 3] uint8 (conversions in the module doc)."""
    mode = img.mode
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(img).astype(np.int64)
        grey = (np.clip(grey, 0, 65535) >> 8).astype(np.uint8)  # (H, W)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        raise ValueError(f"{path}: float ('F' mode) images are not supported; "
                         "save them as 8- or 16-bit integers")
    if mode in _ALPHA_MODES:
        rgba = np.asarray(img.convert("RGBA")).astype(np.uint32)  # (H, W, 4)
        alpha = rgba[:, :, 3:]
        bg = np.asarray(background, dtype=np.uint32).reshape(1, 1, 3)
        out = (rgba[:, :, :3] * alpha + bg * (255 - alpha) + 127) // 255
        return out.astype(np.uint8)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8)


def encode_image(array: np.ndarray | torch.Tensor, suffix: str, *, quality: int = 95) -> bytes:
    """Encode ``array`` (ndarray[H, W, 3] / [H, W] uint8, or Tensor[3, H, W] uint8) as
    PNG, JPEG or BMP, chosen by ``suffix`` (".png", ".jpg", ".jpeg", ".bmp")."""
    fmt = _WRITE_FORMATS.get(suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot write images with suffix {suffix!r}; "
                         f"use one of {sorted(_WRITE_FORMATS)}")
    array = _as_hwc(array)
    buf = io.BytesIO()
    kwargs = {"quality": quality} if fmt == "JPEG" else {}
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write_image(path: str | os.PathLike, array: np.ndarray | torch.Tensor, *,
                quality: int = 95) -> None:
    """Atomically write an image; the format follows the suffix (see :func:`encode_image`)."""
    path = Path(path)
    try:
        data = encode_image(array, path.suffix, quality=quality)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    write_bytes(path, data)


def _as_hwc(array: np.ndarray | torch.Tensor) -> np.ndarray:
    """Tensor[3, H, W] -> ndarray[H, W, 3]; checks dtype and shape."""
    if isinstance(array, torch.Tensor):
        t = array.detach().cpu().as_subclass(torch.Tensor)
        if t.ndim == 3 and t.shape[0] in (1, 3):
            t = t.permute(1, 2, 0)  # (H, W, C)
        array = t.numpy()
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f"image must have shape [H, W, 3] or [H, W], got {list(array.shape)}")
    return np.ascontiguousarray(array)
