"""Video files and frame folders: round trips (exact / PSNR-bounded) and clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torchvision import tv_tensors

from seesall.io.video import read_video, read_video_tensor, write_video


def _clip(t: int = 6, h: int = 32, w: int = 48) -> np.ndarray:
    """A smooth moving gradient (video codecs handle it well)."""
    ys, xs = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(t):
        r = (xs * 4 + i * 6) % 256
        g = (ys * 6 + i * 3) % 256
        b = np.full_like(xs, 60 + 20 * i)
        frames.append(np.stack([r, g, b], axis=2))
    return np.stack(frames).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def test_frame_folder_round_trip_exact(tmp_path: Path) -> None:
    clip = _clip()
    write_video(tmp_path / "clip", clip)
    assert sorted(p.name for p in (tmp_path / "clip").iterdir())[:2] == [
        "frame_00000.png", "frame_00001.png"]
    np.testing.assert_array_equal(read_video(tmp_path / "clip"), clip)
    # Frames are RGB on disk: OpenCV (BGR) sees the channels reversed.
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "clip" / "frame_00002.png")),
                                  clip[2, :, :, ::-1])
    video = read_video_tensor(tmp_path / "clip")
    assert isinstance(video, tv_tensors.Video) and video.shape == (6, 3, 32, 48)
    write_video(tmp_path / "clip", video[:2])  # replaces the folder as a whole
    assert len(list((tmp_path / "clip").iterdir())) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_mp4_round_trip_psnr(tmp_path: Path) -> None:
    clip = _clip(t=8)
    write_video(tmp_path / "c.mp4", torch.from_numpy(clip).permute(0, 3, 1, 2), fps=5)
    out = read_video(tmp_path / "c.mp4")
    assert out.shape == clip.shape and out.dtype == np.uint8
    psnr = _psnr(out, clip)
    assert psnr > 25, psnr  # lossy mp4v; colour order right (a swap gives < 15 dB)
    assert _psnr(out, clip[..., ::-1]) < 20
    assert read_video(tmp_path / "c.mp4", max_frames=3).shape[0] == 3
    cap = cv2.VideoCapture(str(tmp_path / "c.mp4"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)
    cap.release()


def test_bad_videos(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.mp4"):
        read_video(tmp_path / "junk.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: frame folder holds no PNG/JPEG frames"):
        read_video(tmp_path / "empty")
    write_video(tmp_path / "mixed", _clip(t=2))
    cv2.imwrite(str(tmp_path / "mixed" / "frame_00002.png"), np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="frame_00002.png: frame is 5x5"):
        read_video(tmp_path / "mixed")
    with pytest.raises(ValueError, match=r"v.mp4: frames must have shape \[T, H, W, 3\]"):
        write_video(tmp_path / "v.mp4", np.zeros((0, 4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="frames must be uint8"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="v.mp4: OpenCV's video codecs need an even width"):
        write_video(tmp_path / "v.mp4", np.zeros((2, 31, 45, 3), np.uint8))
    assert not (tmp_path / "v.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
