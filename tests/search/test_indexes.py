"""Vector indexes: exactness vs brute force, LSH recall vs its theory, save/load, add/remove."""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np
import pytest

from seesall.search import (
    ExactIndex,
    RandomHyperplaneLSH,
    build_index,
    collision_probability,
    load_index,
)

ALL = ["exact", "lsh", "faiss_flat", "faiss_lsh", "hnsw", "ivf"]
SIZES = {"lsh": {"bits": 6, "tables": 6}, "ivf": {"nlist": 8, "nprobe": 8},
         "faiss_lsh": {"nbits": 64}}


def _data(n: int = 600, d: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _normed(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_matches_brute_force_and_faiss_flat() -> None:
    x, q = _data(), _data(20, seed=1)
    index = ExactIndex(dim=16)
    index.add(x)
    scores, ids = index.search(q, 7)
    sims = _normed(q) @ _normed(x).T
    np.testing.assert_array_equal(ids, np.argsort(-sims, axis=1)[:, :7])
    ref = faiss.IndexFlatIP(16)
    ref.add(_normed(x))
    ref_s, ref_i = ref.search(_normed(q), 7)
    np.testing.assert_array_equal(ids, ref_i)
    np.testing.assert_allclose(scores, ref_s, atol=1e-5)


def test_lsh_recall_within_theory() -> None:
    """Recall@1 of LSH = P(true neighbour is a candidate) = mean of 1 - (1 - (1 - θ/π)^k)^L."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3000, 24)).astype(np.float32)
    q = rng.standard_normal((400, 24)).astype(np.float32)
    bits, tables = 6, 4
    sims = _normed(q) @ _normed(x).T
    nn = sims.argmax(axis=1)
    theta = np.arccos(np.clip(sims.max(axis=1), -1, 1))
    p = collision_probability(theta, bits=bits, tables=tables)
    recalls = []
    for seed in range(4):  # average over independent draws of the hyperplanes
        lsh = RandomHyperplaneLSH(dim=24, bits=bits, tables=tables, seed=seed)
        lsh.add(x)
        recalls.append(float((lsh.search(q, 1)[1][:, 0] == nn).mean()))
    expected, sd = p.mean(), math.sqrt((p * (1 - p)).sum()) / len(p) / 2
    assert 0.2 < expected < 0.9  # a regime where the bound says something
    assert abs(np.mean(recalls) - expected) < 4 * sd + 0.01, (recalls, expected, sd)


def test_collision_probability_single_hyperplane() -> None:
    # one hyperplane, one table: P = 1 - θ/π; check against sampling sign agreement
    rng = np.random.default_rng(0)
    a, b = np.array([1.0, 0.0]), np.array([math.cos(1.0), math.sin(1.0)])
    planes = rng.standard_normal((20000, 2))
    agree = ((planes @ a > 0) == (planes @ b > 0)).mean()
    assert collision_probability(1.0, bits=1, tables=1) == pytest.approx(1 - 1 / math.pi)
    assert agree == pytest.approx(1 - 1 / math.pi, abs=0.015)


@pytest.mark.parametrize("name", ALL)
def test_save_load_same_results(name: str, tmp_path: Path) -> None:
    x, q = _data(), _data(15, seed=2)
    index = build_index(name, dim=16, **SIZES.get(name, {}))
    ids = index.add(x, ids=np.arange(len(x)) * 10 + 3)
    index.names = {int(i): f"img_{i}.png" for i in ids[:3]}
    index.remove(ids[:50])
    before = index.search(q, 5)
    index.save(tmp_path / "a.index")
    loaded = load_index(tmp_path / "a.index")
    after = loaded.search(q, 5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0], atol=1e-6)
    assert loaded.names == index.names and len(loaded) == len(x) - 50
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind


@pytest.mark.parametrize("name", ALL)
def test_add_remove(name: str) -> None:
    x = _data(400)
    index = build_index(name, dim=16, **SIZES.get(name, {}))
    first = index.add(x[:300])
    second = index.add(x[300:])
    np.testing.assert_array_equal(np.concatenate([first, second]), np.arange(400))
    # each vector finds itself (exact re-ranking or high-recall settings)
    _, ids = index.search(x[:40], 1)
    hit = (ids[:, 0] == np.arange(40)).mean()
    assert hit >= (0.8 if name in ("lsh", "faiss_lsh") else 0.95)
    assert index.remove([0, 1, 2, 999]) == 3
    assert len(index) == 397
    _, ids = index.search(x[:3], 10)
    assert not np.isin(ids, [0, 1, 2]).any()
    if name != "lsh":  # every other index returns k live ids (LSH only its bucket-mates)
        assert (ids >= 0).all() and np.isin(ids, index.ids()).all()
    with pytest.raises(ValueError, match="already"):
        index.add(x[:1], ids=[5])


@pytest.mark.parametrize("torch_patched_faiss", [False, True])
def test_hnsw_tombstones_then_rebuild(torch_patched_faiss: bool) -> None:
    if torch_patched_faiss:  # pytorch-metric-learning imports this, which patches faiss globally
        import faiss.contrib.torch_utils  # noqa: F401
    x = _data(200)
    index = build_index("hnsw", dim=16, ef_construction=100, ef_search=200)
    index.add(x)
    index.remove(np.arange(30))  # 15 % -> tombstones
    assert index._removed and len(index) == 170
    index.remove(np.arange(30, 60))  # 30 % -> rebuilt without them
    assert not index._removed and index._index.ntotal == 140
    _, ids = index.search(x[60:70], 1)
    assert (ids[:, 0] == np.arange(60, 70)).mean() >= 0.9  # HNSW is approximate


@pytest.mark.parametrize("name", ["hnsw", "ivf"])
def test_approximate_recall_at_10_on_clusters(name: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 32))
    x = (centres[rng.integers(0, 20, 2000)] + 0.5 * rng.standard_normal((2000, 32)))
    q = x[:100] + 0.1 * rng.standard_normal((100, 32))
    exact = ExactIndex(dim=32)
    exact.add(x)
    index = build_index(name, dim=32, **({"nlist": 20, "nprobe": 4} if name == "ivf" else {}))
    index.add(x)
    truth, got = exact.search(q, 10)[1], index.search(q, 10)[1]
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall > 0.9


def test_faiss_lsh_score_estimates_cosine() -> None:
    x = _data(300, d=32)
    index = build_index("faiss_lsh", dim=32, nbits=512)
    index.add(x)
    scores, ids = index.search(x[:20], 5)
    true = np.sum(_normed(x[:20])[:, None, :] * _normed(x)[ids], axis=2)
    assert np.abs(scores - true).mean() < 0.1


def test_errors(tmp_path: Path) -> None:
    index = ExactIndex(dim=4)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        index.add(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="ivf|IVF"):
        build_index("ivf", dim=4, nlist=50).add(np.ones((10, 4)))
    with pytest.raises(ValueError, match="unknown index"):
        build_index("annoy", dim=4)
    bad = tmp_path / "bad.index"
    bad.write_bytes(b"not an index")
    with pytest.raises(ValueError, match="bad.index"):
        load_index(bad)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_index(tmp_path / "missing.index")
    empty = build_index("hnsw", dim=4)
    scores, ids = empty.search(np.ones((2, 4)), 3)
    assert (ids == -1).all() and np.isneginf(scores).all()
