"""The linear probe's C selection (against scikit-learn's GridSearchCV) and SimCLR's pool."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit

from seesall.tasks.embedding.data import ImageSet, unlabelled
from seesall.tasks.embedding.probe import PROBE_CS, linear_probe, select_c


def _noisy(n: int = 240, d: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Few informative dimensions among many noisy ones: the best C is not the largest."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = rng.normal(size=(n, d))
    x[:, :4] += 1.2 * np.eye(4)[y]
    return (x - x.mean(0)) / x.std(0), y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_select_c_matches_grid_search(seed: int) -> None:
    x, y = _noisy(seed=seed)
    split = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    grid = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(PROBE_CS)}, cv=split,
                        refit=False).fit(x, y)
    assert select_c(x, y, seed=seed) == grid.best_params_["C"]
    assert grid.best_params_["C"] < max(PROBE_CS)  # the noise makes regularisation pay


def test_linear_probe_with_chosen_c_equals_fixed_c() -> None:
    x, y = _noisy()
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y)
    c = select_c(x, y)
    chosen = linear_probe(xt[:160], yt[:160], xt[160:], yt[160:])
    fixed = linear_probe(xt[:160], yt[:160], xt[160:], yt[160:],
                         c=select_c((x[:160] - x[:160].mean(0)) / x[:160].std(0), y[:160]))
    assert chosen == fixed and 0.25 < chosen <= 1.0 and c in PROBE_CS
    with pytest.raises(ValueError, match="cs"):
        select_c(x, y, cs=())


def test_unlabelled_pool() -> None:
    a = ImageSet(torch.zeros(3, 3, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 2]), ("x",))
    b = ImageSet(torch.ones(2, 3, 8, 8, dtype=torch.uint8), torch.tensor([1, 1]), ("x",))
    pool = unlabelled(a, b)
    assert len(pool) == 5 and pool.labels.tolist() == [-1] * 5
    assert torch.equal(pool.images[3:], b.images) and torch.equal(pool.images[:3], a.images)
    with pytest.raises(ValueError, match="shapes"):
        unlabelled(a, ImageSet(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), torch.tensor([0]),
                               ("x",)))
