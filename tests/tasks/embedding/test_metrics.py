"""Retrieval metrics against pytorch-metric-learning's AccuracyCalculator and a hand case."""

from __future__ import annotations

import pytest
import torch
from pytorch_metric_learning.utils import accuracy_calculator as ac
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

from seesall.tasks.embedding.metrics import RetrievalMetric, knn, retrieval_metrics


def _clustered(seed: int, n: int = 120, classes: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    centres = torch.randn(classes, 16, generator=g)
    x = centres[labels] + 1.2 * torch.randn(n, 16, generator=g)
    return torch.nn.functional.normalize(x, dim=1), labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_leave_one_out_matches_accuracy_calculator(seed: int) -> None:
    x, y = _clustered(seed)
    ref = AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
        device=torch.device("cpu"),
    ).get_accuracy(x, y)
    ours = retrieval_metrics(x, y)
    assert ours["precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-9)
    assert ours["r_precision"] == pytest.approx(ref["r_precision"], abs=1e-9)
    assert ours["map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-9)
    assert 0.2 < ours["map_at_r"] < 0.95  # not a trivial case


def test_query_vs_reference_with_lone_query_matches_accuracy_calculator() -> None:
    x, y = _clustered(3)
    q, qy, r, ry = x[:30], y[:30].clone(), x[30:], y[30:]
    qy[0] = 99  # a lone query: left out of every average
    ref = AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
        device=torch.device("cpu"),
    ).get_accuracy(q, qy, r, ry)
    ours = retrieval_metrics(q, qy, r, ry)
    assert ours["num_queries"] == 29
    assert ours["precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-9)
    assert ours["r_precision"] == pytest.approx(ref["r_precision"], abs=1e-9)
    assert ours["map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-9)


def test_precision_at_k_matches_pml_function() -> None:
    x, y = _clustered(4)
    _, idx = knn(x, x, 5, exclude_self=True)
    ref = ac.precision_at_k(y[idx], y[:, None], 5, False, False, torch.eq)
    assert retrieval_metrics(x, y)["precision_at_5"] == pytest.approx(ref, abs=1e-9)


def test_hand_case() -> None:
    # one query of class 0; ranked references by cosine: A(0), B(1), C(0), D(1); R = 2
    q = torch.tensor([[1.0, 0.0]])
    ref = torch.tensor([[1.0, 0.1], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]])
    m = retrieval_metrics(q, torch.tensor([0]), ref, torch.tensor([0, 1, 0, 1]), ks=(1, 2, 3))
    assert m["precision_at_1"] == 1.0
    assert m["recall_at_2"] == 1.0 and m["precision_at_2"] == 0.5
    assert m["precision_at_3"] == pytest.approx(2 / 3)
    assert m["r_precision"] == 0.5  # top-2 holds one of two relevant
    assert m["map_at_r"] == pytest.approx((1.0 + 0.0) / 2)  # P@1 counted, rank 2 not relevant


def test_metric_accumulates() -> None:
    x, y = _clustered(5)
    metric = RetrievalMetric()
    metric.update(x[:50], y[:50])
    metric.update(x[50:], y[50:])
    assert metric.compute() == retrieval_metrics(x, y)
    metric.reset()
    with pytest.raises(ValueError, match="update"):
        metric.compute()
