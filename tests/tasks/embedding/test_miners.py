"""Miners on a hand-made distance matrix, and against pytorch-metric-learning's miners."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning.distances import LpDistance

from seesall.tasks.embedding import miners as M

# Five points, labels 0 0 0 1 1; a symmetric hand-made distance matrix.
LABELS = torch.tensor([0, 0, 0, 1, 1])
DIST = torch.tensor([
    [0.0, 0.5, 1.0, 0.7, 1.2],
    [0.5, 0.0, 0.8, 0.3, 0.9],
    [1.0, 0.8, 0.0, 1.1, 0.6],
    [0.7, 0.3, 1.1, 0.0, 0.4],
    [1.2, 0.9, 0.6, 0.4, 0.0],
])
POS_PAIRS = {(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)}


def _set(t: M.Triplets) -> set[tuple[int, int, int]]:
    return set(zip(t.anchor.tolist(), t.positive.tolist(), t.negative.tolist(), strict=True))


def test_all_triplets_count() -> None:
    t = M.all_triplets(DIST, LABELS)
    assert len(_set(t)) == 6 * 2 + 2 * 3


def test_hardest_negative() -> None:
    hardest = {0: 3, 1: 3, 2: 4, 3: 1, 4: 2}
    expected = {(a, p, hardest[a]) for a, p in POS_PAIRS}
    assert _set(M.hardest_negative_triplets(DIST, LABELS)) == expected


def test_batch_hard() -> None:
    expected = {(0, 2, 3), (1, 2, 3), (2, 0, 4), (3, 4, 1), (4, 3, 2)}
    assert _set(M.batch_hard_triplets(DIST, LABELS)) == expected


def test_semihard_all_and_hardest() -> None:
    # d(a,p) < d(a,n) < d(a,p) + 0.25, worked out by hand pair by pair
    expected = {(0, 1, 3), (0, 2, 4), (1, 2, 4), (2, 0, 3), (4, 3, 2)}
    assert _set(M.semihard_triplets(DIST, LABELS, margin=0.25)) == expected
    # margin 0.75: (0,1) has 3 (0.7) and 4 (1.2); "hardest" keeps the closest semi-hard one
    t = M.semihard_triplets(DIST, LABELS, margin=0.75, select="hardest")
    got = {(a, p): n for a, p, n in _set(t)}
    assert got[(0, 1)] == 3 and got[(0, 2)] == 4 and got[(1, 0)] == 4 and got[(3, 4)] == 0


def test_random_triplets_are_valid_and_cover_negatives() -> None:
    g = torch.Generator().manual_seed(0)
    seen: dict[tuple[int, int], set[int]] = {}
    for _ in range(200):
        for a, p, n in _set(M.random_triplets(DIST, LABELS, generator=g)):
            assert (a, p) in POS_PAIRS and LABELS[n] != LABELS[a]
            seen.setdefault((a, p), set()).add(n)
    assert set(seen) == POS_PAIRS
    assert seen[(3, 4)] == {0, 1, 2} and seen[(0, 1)] == {3, 4}


def test_distance_weights_formula() -> None:
    dim, cutoff, nz = 8, 0.5, 1.15
    w = M.distance_weights(DIST, LABELS, dim=dim, cutoff=cutoff, nonzero_loss_cutoff=nz)
    # anchor 3: negatives 0 (0.7), 1 (0.3 -> clipped to 0.5), 2 (1.1); none beyond 1.15
    d = np.array([0.7, 0.5, 1.1])
    inv_q = 1.0 / (d ** (dim - 2) * (1 - d**2 / 4) ** ((dim - 3) / 2))
    np.testing.assert_allclose(w[3, :3].numpy(), inv_q / inv_q.sum(), rtol=1e-5)
    assert w[3, 3] == 0 and w[3, 4] == 0
    # anchor 0: negative 4 at 1.2 >= 1.15 gets no weight -> all mass on 3
    np.testing.assert_allclose(w[0].numpy(), [0, 0, 0, 1, 0], atol=1e-6)


def test_distance_weighted_sampling_frequencies() -> None:
    dim = 8
    w = M.distance_weights(DIST, LABELS, dim=dim)
    g = torch.Generator().manual_seed(1)
    counts = torch.zeros(5)
    for _ in range(2000):
        t = M.distance_weighted_triplets(DIST, LABELS, dim=dim, generator=g)
        sel = (t.anchor == 3) & (t.positive == 4)
        counts[t.negative[sel]] += 1
    np.testing.assert_allclose((counts / counts.sum()).numpy(), w[3].numpy(), atol=0.03)


def _random_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(40, 8, generator=g, dtype=torch.float64), dim=1)
    return x, torch.randint(0, 5, (40,), generator=g)


@pytest.mark.parametrize("seed", [0, 1])
def test_semihard_matches_pml(seed: int) -> None:
    x, y = _random_batch(seed)
    ref = pml_miners.TripletMarginMiner(
        margin=0.3, type_of_triplets="semihard", distance=LpDistance(normalize_embeddings=False)
    )(x, y)
    ours = M.semihard_triplets(M.distance_matrix(x), y, margin=0.3)
    assert _set(ours) == _set(M.Triplets(*ref))
    assert len(_set(ours)) > 10


def test_batch_hard_matches_pml() -> None:
    x, y = _random_batch(2)
    ref = pml_miners.BatchHardMiner(distance=LpDistance(normalize_embeddings=False))(x, y)
    assert _set(M.batch_hard_triplets(M.distance_matrix(x), y)) == _set(M.Triplets(*ref))


def test_distance_matrix_matches_cdist() -> None:
    x, _ = _random_batch(3)
    torch.testing.assert_close(M.distance_matrix(x), torch.cdist(x, x), atol=1e-6, rtol=1e-6)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="dist"):
        M.hardest_negative_triplets(torch.zeros(3, 3), torch.zeros(4, dtype=torch.long))
