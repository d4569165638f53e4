"""``seesall embed``, ``seesall index build|add|remove|search`` and ``seesall eval embedding``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seesall.cli.main import main
from seesall.search import load_index
from seesall.tasks.embedding.embedder import load_vectors


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            arr = rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    return root


def test_embed_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path / "imgs")
    out = tmp_path / "v.npz"
    assert main(["embed", "--model", "convnet_digits", str(folder), "--out", str(out)]) == 0
    data = load_vectors(out)
    assert data["vectors"].shape == (6, 64)
    np.testing.assert_allclose(np.linalg.norm(data["vectors"], axis=1), 1, atol=1e-5)
    assert data["labels"].tolist() == [0, 0, 0, 1, 1, 1]
    assert data["paths"][0] == "a/0.png" and data["class_names"].tolist() == ["a", "b"]
    capsys.readouterr()
    assert main(["eval", "embedding", str(out), "--out", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert 0 <= metrics["map_at_r"] <= 1 and metrics["num_queries"] == 6


@pytest.mark.parametrize("kind", ["exact", "lsh", "hnsw", "ivf"])
def test_index_build_add_remove_search(kind: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path / "imgs")
    index_path = tmp_path / "x.index"
    extra = tmp_path / "extra.png"
    Image.open(folder / "a" / "0.png").save(extra)
    assert main(["index", "build", str(folder / "a"), "--out", str(index_path),
                 "--model", "convnet_digits", "--kind", kind]) == 0
    assert len(load_index(index_path)) == 3
    assert main(["index", "add", str(index_path), str(folder / "b"), str(extra)]) == 0
    assert len(load_index(index_path)) == 7
    capsys.readouterr()
    assert main(["index", "search", str(index_path), "--image", str(folder / "b" / "1.png"),
                 "-k", "7"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    scores = {r[4]: float(r[2]) for r in rows}
    own = scores[str(folder / "b" / "1.png")]  # the image finds itself with cosine 1
    assert own == pytest.approx(1.0, abs=1e-4) and own >= max(scores.values()) - 1e-5
    assert main(["index", "remove", str(index_path), str(folder / "b" / "1.png")]) == 0
    index = load_index(index_path)
    assert len(index) == 6 and not any(v.endswith("b/1.png") for v in index.names.values())
    np.save(tmp_path / "q.npy", np.ones(64, dtype=np.float32))
    capsys.readouterr()
    assert main(["index", "search", str(index_path), "--vector", str(tmp_path / "q.npy")]) == 0
    n = len(capsys.readouterr().out.splitlines())
    assert n == 5 or (kind == "lsh" and n <= 5)  # LSH returns only bucket-mates of the query


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["embed", "--model", "convnet_digits", str(tmp_path / "none"),
                 "--out", str(tmp_path / "v.npz")]) == 2
    assert "none" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["embed", "--model", "convnet_digits", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "v.npz")]) == 2
    assert main(["index", "search", str(tmp_path / "missing.index"), "--vector", "q.npy"]) == 2
    assert "missing.index" in capsys.readouterr().err
