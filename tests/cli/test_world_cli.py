"""The world, show and demo commands, end to end on tiny data."""

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from seesall.cli.main import main


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_world_all_writes_every_format_deterministically(tmp_path):
    args = ["world", "--task", "all", "--n", "2", "--size", "48x64", "--seed", "5", "--clip-length", "4"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    a = _digest(tmp_path / "a")
    assert a == _digest(tmp_path / "b")
    for name in ["scenes/annotations.json", "scenes/images/000001.png", "scenes/semantic/000000.png",
                 "scenes/depth/000000.png", "scenes/preview.png", "pairs/flow/000001.flo",
                 "pairs/flow/000001.png", "pairs/images2/000000.png", "clips/clips.json",
                 "clips/clips/000001/frame_00003.png", "clips/clips/000001/gt.txt", "clips/preview.png"]:
        assert name in a, name
    assert main([*args[:-4], "--seed", "6", "--clip-length", "4", "--out", str(tmp_path / "c")]) == 0
    assert _digest(tmp_path / "c")["scenes/annotations.json"] != a["scenes/annotations.json"]


def test_show_renders_each_format(tmp_path):
    assert main(["world", "--task", "all", "--n", "2", "--size", "48", "--clip-length", "4",
                 "--out", str(tmp_path)]) == 0
    for target in ["scenes", "pairs", "clips", "scenes/annotations.json", "pairs/flow/000000.flo",
                   "pairs/flow/000000.png", "scenes/semantic/000000.png", "clips/clips/000000"]:
        out = tmp_path / f"{target.replace('/', '_')}.png"
        assert main(["show", str(tmp_path / target), "--out", str(out)]) == 0, target
        assert np.asarray(Image.open(out)).ndim == 3


def test_show_bad_input_is_one_line_error(tmp_path, capsys):
    assert main(["show", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(["show", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing" in err[0] and "bad.png" in err[1]


def test_demo_writes_pictures(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--n", "1", "--size", "64", "--seed", "1"]) == 0
    for name in ["scenes.png", "pairs.png", "clips.png"]:
        assert (tmp_path / name).is_file()
    assert str(tmp_path) in capsys.readouterr().out
