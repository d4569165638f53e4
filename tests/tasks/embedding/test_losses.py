"""Losses against pytorch-metric-learning, torch.nn and hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import reducers
from pytorch_metric_learning.distances import LpDistance
from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

from seesall.tasks.embedding import losses as L
from seesall.tasks.embedding.criterion import ContrastiveCriterion, TripletCriterion
from seesall.tasks.embedding.miners import all_triplets


def _batch(seed: int = 0, b: int = 24, d: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 4, (b,), generator=g)


def test_contrastive_hand_case() -> None:
    x1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    x2 = torch.tensor([[3.0, 4.0], [3.0, 4.0], [3.0, 4.0]])
    same = torch.tensor([1, 0, 0])
    assert L.contrastive_loss(x1[:1], x2[:1], same[:1], margin=6.0).item() == pytest.approx(25.0)
    assert L.contrastive_loss(x1[1:2], x2[1:2], same[1:2], margin=6.0).item() == pytest.approx(1.0)
    assert L.contrastive_loss(x1[2:], x2[2:], same[2:], margin=4.0).item() == pytest.approx(0.0)


@pytest.mark.parametrize("margin", [0.5, 2.0])
def test_contrastive_matches_pml(margin: float) -> None:
    # pml's ContrastiveLoss is relu(d - pos_margin) on positives and relu(neg_margin - d)
    # on negatives with plain distances; with pos_margin=0 squaring each per-pair term
    # gives y·d² + (1 − y)·max(0, m − d)².
    x, y = _batch()
    ref = pml_losses.ContrastiveLoss(
        pos_margin=0.0, neg_margin=margin,
        distance=LpDistance(normalize_embeddings=False), reducer=reducers.DoNothingReducer(),
    )(x, y)
    a1, p, a2, n = lmu.get_all_pairs_indices(y)
    ours_pos = L.contrastive_loss(x[a1], x[p], torch.ones(len(a1)), margin=margin, reduction="none")
    ours_neg = L.contrastive_loss(x[a2], x[n], torch.zeros(len(a2)), margin=margin,
                                  reduction="none")
    torch.testing.assert_close(ours_pos.double(), ref["pos_loss"]["losses"].pow(2))
    torch.testing.assert_close(ours_neg.double(), ref["neg_loss"]["losses"].pow(2))


def test_triplet_hand_case() -> None:
    a, p, n = torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    assert L.triplet_loss(a, p, n, margin=0.5).item() == pytest.approx(0.0)  # 0.5 + 1 - 4
    assert L.triplet_loss(a, p, n, margin=4.0).item() == pytest.approx(1.0)  # 4 + 1 - 4
    assert L.triplet_loss(a, p, n, margin=4.0, squared=False).item() == pytest.approx(3.0)


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "nonzero"])
def test_triplet_matches_pml(squared: bool, reduction: str) -> None:
    x, y = _batch(1)
    reducer = reducers.MeanReducer() if reduction == "mean" else reducers.AvgNonZeroReducer()
    ref = pml_losses.TripletMarginLoss(
        margin=0.7, distance=LpDistance(normalize_embeddings=False, power=2 if squared else 1),
        reducer=reducer,
    )(x, y)
    crit = TripletCriterion(miner=all_triplets, margin=0.7, squared=squared, reduction=reduction)
    ours = crit(x, y)["loss_triplet"]
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-8)
    # torch's own TripletMarginLoss is the plain-distance variant
    if not squared and reduction == "mean":
        t = all_triplets(torch.zeros(len(y), len(y)), y)
        ref2 = torch.nn.TripletMarginLoss(margin=0.7, eps=0.0)(x[t.anchor], x[t.positive],
                                                               x[t.negative])
        torch.testing.assert_close(ours, ref2, rtol=1e-6, atol=1e-8)


def test_cosine_verification_hand_case() -> None:
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # orthogonal: cos 0 -> M = 0.5, loss 0.5 whatever T
    assert L.cosine_verification_loss(e1, e2, torch.tensor([1])).item() == pytest.approx(0.5)
    assert L.cosine_verification_loss(e1, e2, torch.tensor([0])).item() == pytest.approx(0.5)
    # opposite: M = 0 -> 0 for a negative pair, 1 for a positive pair
    assert L.cosine_verification_loss(e1, -e1, torch.tensor([0])).item() == pytest.approx(0.0)
    assert L.cosine_verification_loss(e1, -e1, torch.tensor([1])).item() == pytest.approx(1.0)
    assert L.cosine_verification_loss(e1, 3 * e1, torch.tensor([1])).item() == pytest.approx(0.0)


def test_cosine_verification_is_complement_of_the_seed_expression() -> None:
    x1, x2 = torch.randn(16, 5), torch.randn(16, 5)
    t = torch.randint(0, 2, (16,)).float()
    m = (1 + torch.nn.functional.cosine_similarity(x1, x2)) / 2
    seed_expr = t * m + (1 - t) * (1 - m)
    torch.testing.assert_close(L.cosine_verification_loss(x1, x2, t, reduction="none"),
                               1 - seed_expr)


@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding_matches_torch(margin: float) -> None:
    x1, x2 = torch.randn(32, 6), torch.randn(32, 6)
    same = torch.randint(0, 2, (32,))
    ref = torch.nn.CosineEmbeddingLoss(margin=margin)(x1, x2, 2 * same - 1)
    torch.testing.assert_close(L.cosine_embedding_loss(x1, x2, same, margin=margin), ref)


def test_pairwise_hinge_matches_margin_ranking() -> None:
    q, pos, neg = torch.randn(32, 6), torch.randn(32, 6), torch.randn(32, 6)
    cos = torch.nn.functional.cosine_similarity
    ref = torch.nn.MarginRankingLoss(margin=0.2)(cos(q, pos), cos(q, neg), torch.ones(32))
    torch.testing.assert_close(L.pairwise_hinge_loss(q, pos, neg, delta=0.2), ref)
    # hand case: same direction positive, opposite negative -> 0; swapped -> δ + 2
    e = torch.tensor([[1.0, 0.0]])
    assert L.pairwise_hinge_loss(e, e, -e, delta=0.2).item() == pytest.approx(0.0)
    assert L.pairwise_hinge_loss(e, -e, e, delta=0.2).item() == pytest.approx(2.2)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_nt_xent_matches_pml(temperature: float) -> None:
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(10, 16, generator=g), torch.randn(10, 16, generator=g)
    labels = torch.cat([torch.arange(10), torch.arange(10)])
    ref = pml_losses.NTXentLoss(temperature=temperature)(torch.cat([z1, z2]), labels)
    torch.testing.assert_close(L.nt_xent_loss(z1, z2, temperature=temperature), ref,
                               rtol=1e-5, atol=1e-5)


def test_nt_xent_hand_case() -> None:
    e = torch.eye(2)
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2.0))
    assert L.nt_xent_loss(e, e.clone(), temperature=tau).item() == pytest.approx(expected)


def test_contrastive_criterion_balances_pairs() -> None:
    x, y = _batch(2)
    out = ContrastiveCriterion(margin=1.0)(x, y)
    i, j = torch.triu_indices(len(y), len(y), offset=1)
    same = y[i] == y[j]
    d = (x[i] - x[j]).norm(dim=1)
    torch.testing.assert_close(out["loss_contrastive_pos"], d[same].pow(2).mean())
    torch.testing.assert_close(out["loss_contrastive_neg"],
                               torch.relu(1 - d[~same]).pow(2).mean())


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="x1"):
        L.contrastive_loss(torch.zeros(3, 2), torch.zeros(4, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="same"):
        L.cosine_verification_loss(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        L.triplet_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2), reduction="avg")
