"""Flow files: round trips, OpenCV's own .flo reader/writer, the KITTI encoding by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from seesall.io.flow import (
    flow_to_numpy,
    flow_to_tensor,
    read_flo,
    read_flow,
    read_kitti_flow,
    write_flo,
    write_flow,
    write_kitti_flow,
)
from seesall.structures import Flow


def _flow(h: int = 5, w: int = 7, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(h, w, 2)) * 20).astype(np.float32)


def test_flo_round_trip_exact_and_layout(tmp_path: Path) -> None:
    f = _flow()
    write_flo(tmp_path / "a.flo", f)
    out, valid = read_flo(tmp_path / "a.flo")
    np.testing.assert_array_equal(out, f)
    assert valid.all() and out.dtype == np.float32
    raw = (tmp_path / "a.flo").read_bytes()
    # Layout by hand: magic, width, height, then (u, v) interleaved, little endian.
    assert np.frombuffer(raw[:4], "<f4")[0] == np.float32(202021.25)
    assert tuple(np.frombuffer(raw[4:12], "<i4")) == (7, 5)
    assert np.frombuffer(raw[12:20], "<f4").tolist() == f[0, 0].tolist()
    assert len(raw) == 12 + 5 * 7 * 8


@pytest.mark.skipif(not hasattr(cv2, "readOpticalFlow"), reason="cv2 without optflow IO")
def test_flo_agrees_with_opencv(tmp_path: Path) -> None:
    f = _flow(9, 4, seed=3)
    write_flo(tmp_path / "ours.flo", f)
    np.testing.assert_array_equal(cv2.readOpticalFlow(str(tmp_path / "ours.flo")), f)
    assert cv2.writeOpticalFlow(str(tmp_path / "cv.flo"), f)
    np.testing.assert_array_equal(read_flo(tmp_path / "cv.flo")[0], f)
    assert (tmp_path / "cv.flo").read_bytes() == (tmp_path / "ours.flo").read_bytes()


def test_flo_invalid_pixels(tmp_path: Path) -> None:
    f = _flow()
    valid = np.ones(f.shape[:2], bool)
    valid[1, 2] = False
    write_flo(tmp_path / "a.flo", f, valid)
    out, v = read_flo(tmp_path / "a.flo")
    np.testing.assert_array_equal(v, valid)
    assert (out[1, 2] == 0).all()
    np.testing.assert_array_equal(out[valid], f[valid])


def test_flo_bad_inputs(tmp_path: Path) -> None:
    write_flo(tmp_path / "a.flo", _flow())
    raw = (tmp_path / "a.flo").read_bytes()
    (tmp_path / "magic.flo").write_bytes(b"PIEH"[::-1] + raw[4:])
    with pytest.raises(ValueError, match="magic.flo: not a .flo file"):
        read_flo(tmp_path / "magic.flo")
    (tmp_path / "cut.flo").write_bytes(raw[:-4])
    with pytest.raises(ValueError, match="cut.flo: .flo of 7x5 needs 292 bytes, file has 288"):
        read_flo(tmp_path / "cut.flo")
    (tmp_path / "head.flo").write_bytes(raw[:6])
    with pytest.raises(ValueError, match="head.flo: truncated .flo header"):
        read_flo(tmp_path / "head.flo")
    (tmp_path / "size.flo").write_bytes(raw[:4] + np.array([-3, 5], "<i4").tobytes() + raw[12:])
    with pytest.raises(ValueError, match="size.flo: implausible .flo size width=-3"):
        read_flo(tmp_path / "size.flo")
    with pytest.raises(ValueError, match=r"b.flo: flow must have shape \[H, W, 2\]"):
        write_flo(tmp_path / "b.flo", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(FileNotFoundError):
        read_flo(tmp_path / "none.flo")


def test_kitti_png_encoding_by_hand(tmp_path: Path) -> None:
    f = np.array([[[1.5, -2.25], [0.0, 0.0]]], np.float32)  # (1, 2, 2)
    valid = np.array([[True, False]])
    write_kitti_flow(tmp_path / "k.png", f, valid)
    raw = cv2.imread(str(tmp_path / "k.png"), cv2.IMREAD_UNCHANGED)  # BGR uint16
    assert raw.dtype == np.uint16
    # R = u * 64 + 2^15, G = v * 64 + 2^15, B = valid; invalid pixels all 0.
    assert raw[0, 0].tolist() == [1, 32768 - 144, 32768 + 96]
    assert raw[0, 1].tolist() == [0, 0, 0]
    out, v = read_kitti_flow(tmp_path / "k.png")
    np.testing.assert_array_equal(v, valid)
    np.testing.assert_array_equal(out, [[[1.5, -2.25], [0.0, 0.0]]])


def test_kitti_png_round_trip_within_a_64th(tmp_path: Path) -> None:
    f = _flow(12, 10, seed=5)
    valid = np.random.default_rng(0).random(f.shape[:2]) > 0.2
    write_flow(tmp_path / "k.png", f, valid)
    out, v = read_flow(tmp_path / "k.png")
    np.testing.assert_array_equal(v, valid)
    assert np.abs(out[valid] - f[valid]).max() <= 0.5 / 64
    assert (out[~valid] == 0).all()


def test_kitti_bad_inputs(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "rgb8.png"), np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(ValueError, match="rgb8.png: a KITTI flow PNG is 16-bit with 3 channels"):
        read_kitti_flow(tmp_path / "rgb8.png")
    (tmp_path / "junk.png").write_bytes(b"junk" * 20)
    with pytest.raises(ValueError, match="junk.png: not a readable PNG"):
        read_kitti_flow(tmp_path / "junk.png")
    with pytest.raises(ValueError, match="a.pfm: unknown flow file suffix"):
        read_flow(tmp_path / "a.pfm")


def test_tensor_conversion() -> None:
    f = _flow()
    flow, valid = flow_to_tensor(f, np.ones(f.shape[:2], bool))
    assert isinstance(flow, Flow) and flow.shape == (2, 5, 7)
    assert torch.equal(flow[0], torch.from_numpy(f[:, :, 0]))  # channel 0 is u
    back, v = flow_to_numpy(flow, valid)
    np.testing.assert_array_equal(back, f)
    assert v.all()
