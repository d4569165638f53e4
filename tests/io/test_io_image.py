"""read_image / write_image: conversions and clear errors, checked against hand-made files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from seesall.io.image import read_image, read_image_tensor, write_image


def _rgb(h: int = 6, w: int = 9, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp"])
def test_lossless_round_trip(tmp_path: Path, suffix: str) -> None:
    a = _rgb()
    write_image(tmp_path / f"a{suffix}", a)
    np.testing.assert_array_equal(read_image(tmp_path / f"a{suffix}"), a)
    # An independent decoder agrees (OpenCV, BGR).
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / f"a{suffix}"))[:, :, ::-1], a)


def test_jpeg_and_tensor_variant(tmp_path: Path) -> None:
    a = np.full((16, 16, 3), 120, np.uint8)
    write_image(tmp_path / "a.jpg", torch.from_numpy(a).permute(2, 0, 1))
    t = read_image_tensor(tmp_path / "a.jpg")
    assert isinstance(t, tv_tensors.Image) and t.shape == (3, 16, 16) and t.dtype == torch.uint8
    assert (t.int() - 120).abs().max() <= 2


def test_write_rejects_bad_suffix_and_dtype(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a.gif"):
        write_image(tmp_path / "a.gif", _rgb())
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "a.png", _rgb().astype(np.float32))
    assert not list(tmp_path.iterdir())


def test_grayscale_and_bilevel(tmp_path: Path) -> None:
    g = _rgb()[:, :, 0]
    Image.fromarray(g).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (6, 9, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], g)
    Image.fromarray(g > 127).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png")[:, :, 1], (g > 127) * 255)


def test_palette_uses_the_palette(tmp_path: Path) -> None:
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    im = Image.fromarray(idx, mode="P")
    im.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90] + [0] * 759)
    im.save(tmp_path / "p.png")
    expected = np.array([[[10, 20, 30], [40, 50, 60]], [[70, 80, 90], [40, 50, 60]]], np.uint8)
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), expected)


def test_rgba_composited_on_background(tmp_path: Path) -> None:
    rgba = np.array([[[200, 100, 50, 255], [200, 100, 50, 0], [200, 100, 50, 128]]], np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    black = read_image(tmp_path / "a.png")
    white = read_image(tmp_path / "a.png", background=(255, 255, 255))
    # Hand-computed: (c * a + bg * (255 - a) + 127) // 255.
    np.testing.assert_array_equal(black[0], [[200, 100, 50], [0, 0, 0], [100, 50, 25]])
    np.testing.assert_array_equal(white[0], [[200, 100, 50], [255, 255, 255], [227, 177, 152]])
    la = np.array([[[80, 255], [80, 0]]], np.uint8)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png")[0], [[80] * 3, [0] * 3])


def test_cmyk_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (8, 8, 3)
    assert out[..., 0].min() > 240 and out[..., 1:].max() < 15  # pure red


def test_16bit_grey_and_colour(tmp_path: Path) -> None:
    k = np.arange(54, dtype=np.uint16).reshape(6, 9) * 4
    cv2.imwrite(str(tmp_path / "g16.png"), k * 256 + 200)  # high byte k
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png")[:, :, 2], k)
    cv2.imwrite(str(tmp_path / "e16.png"), k * 257)  # the usual 8 -> 16-bit expansion
    np.testing.assert_array_equal(read_image(tmp_path / "e16.png")[:, :, 0], k)
    c16 = np.random.default_rng(1).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), c16[:, :, ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(read_image(tmp_path / "c16.png"), (c16 >> 8).astype(np.uint8))


def test_float_image_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 4), np.float32), mode="F").save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match="f.tif.*float"):
        read_image(tmp_path / "f.tif")


@pytest.mark.parametrize(("orientation", "k", "flip"), [(3, 2, False), (6, -1, False),
                                                        (8, 1, False), (2, 0, True)])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, k: int, flip: bool) -> None:
    a = _rgb(4, 7)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(a).save(tmp_path / "e.png", exif=exif)
    expected = a[:, ::-1] if flip else np.rot90(a, k)  # k=-1: 90 deg clockwise for tag 6
    np.testing.assert_array_equal(read_image(tmp_path / "e.png"), expected)


def test_exif_orientation_in_jpeg(tmp_path: Path) -> None:
    a = np.kron(_rgb(2, 3, seed=4), np.ones((8, 8, 1), np.uint8))  # flat 8x8 blocks
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(a).save(tmp_path / "e.jpg", exif=exif, quality=100, subsampling=0)
    out = read_image(tmp_path / "e.jpg")
    assert out.shape == (24, 16, 3)  # stored 16 x 24, shown rotated 90 degrees clockwise
    assert np.abs(out.astype(int) - np.rot90(a, -1)).mean() < 3


def test_corrupt_truncated_unknown_missing(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ValueError, match="junk.png: unknown or unsupported image format"):
        read_image(tmp_path / "junk.png")
    write_image(tmp_path / "full.png", _rgb(64, 64))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png: corrupt or truncated"):
        read_image(tmp_path / "cut.png")
    write_image(tmp_path / "full.jpg", _rgb(64, 64))
    jpg = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpg[: len(jpg) // 2])
    with pytest.raises(ValueError, match="cut.jpg: corrupt or truncated"):
        read_image(tmp_path / "cut.jpg")
    bad = bytearray(data)
    bad[60:80] = b"\x00" * 20  # inside IDAT: CRC / zlib stream broken
    (tmp_path / "bad.png").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="bad.png: corrupt or truncated"):
        read_image(tmp_path / "bad.png")
    Image.fromarray(_rgb()).save(tmp_path / "icon.ico")  # a real format we do not read
    with pytest.raises(ValueError, match="icon.ico: unknown or unsupported"):
        read_image(tmp_path / "icon.ico")
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` grey pixels but holds one tiny IDAT."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_decompression_bombs(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(ValueError, match="bomb.png: refused as a possible decompression bomb"):
        read_image(tmp_path / "bomb.png")
    # Between Pillow's warning and error thresholds: the warning becomes the same error.
    (tmp_path / "warn.png").write_bytes(_png_header_only(10_000, 10_000))
    with pytest.raises(ValueError, match="warn.png: refused as a possible decompression bomb"):
        read_image(tmp_path / "warn.png", max_pixels=10**9)
    write_image(tmp_path / "small.png", _rgb(20, 20))
    with pytest.raises(ValueError, match="400 pixels > max_pixels=100"):
        read_image(tmp_path / "small.png", max_pixels=100)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_damaged_files_give_value_errors_only(tmp_path: Path, fmt: str) -> None:
    """Random byte flips and cuts: a decoded image or a ValueError naming the file, never
    another exception from inside the decoder."""
    rng = np.random.default_rng(0)
    path = tmp_path / f"x.{fmt.lower()}"
    Image.fromarray(_rgb(20, 24)).save(path, format=fmt)
    data = path.read_bytes()
    for t in range(30):
        d = bytearray(data)
        for _ in range(int(rng.integers(1, 6))):
            d[int(rng.integers(0, len(d)))] = int(rng.integers(0, 256))
        path.write_bytes(bytes(d[: int(rng.integers(1, len(d)))] if t % 3 == 0 else d))
        try:
            out = read_image(path)
        except ValueError as e:
            assert str(e).startswith(str(path))
        else:
            assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
