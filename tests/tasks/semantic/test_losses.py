"""Lovász-softmax against hand-computed Jaccard losses and a brute-force Lovász extension."""

from __future__ import annotations

import itertools

import pytest
import torch

from seesall.tasks.semantic.losses import (
    SemanticLossConfig,
    dice_loss,
    edge_targets,
    lovasz_softmax,
    lovasz_softmax_flat,
    semantic_loss,
)


def _jaccard_loss(gt: set[int], wrong: set[int]) -> float:
    """Δ_J(M) = 1 − |G ∖ M| / |G ∪ M| (Berman et al. 2018, eq. 4), by sets."""
    union = gt | wrong
    return 0.0 if not union else 1.0 - len(gt - wrong) / len(union)


def _lovasz_extension_by_levels(errors: list[float], gt: set[int]) -> float:
    """f(m) = ∫_0^1 Δ_J({i: m_i ≥ t}) dt, as a sum over the distinct error levels."""
    levels = sorted(set(errors) | {0.0}, reverse=True)
    total = 0.0
    for hi, lo in itertools.pairwise(levels):
        total += (hi - lo) * _jaccard_loss(gt, {i for i, m in enumerate(errors) if m >= hi})
    return total


def test_one_hot_probabilities_give_the_discrete_jaccard_loss() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 1])  # class 2 missed entirely
    probs = torch.nn.functional.one_hot(pred, 3).double()
    # by hand: class 0: IoU 1/2 -> 0.5; class 1: IoU 2/4 -> 0.5; class 2: IoU 0/1 -> 1.0
    assert lovasz_softmax_flat(probs, labels, "present").item() == pytest.approx(2.0 / 3.0)
    # "all" also averages class 3 (absent from both): loss 0
    probs4 = torch.nn.functional.one_hot(pred, 4).double()
    assert lovasz_softmax_flat(probs4, labels, "all").item() == pytest.approx(0.5)
    labels2, pred2 = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    p2 = torch.nn.functional.one_hot(pred2, 2).double()
    # class 0: 1 - 1/2; class 1: 1 - 2/3
    assert lovasz_softmax_flat(p2, labels2).item() == pytest.approx((0.5 + 1 / 3) / 2)


@pytest.mark.parametrize("seed", range(6))
def test_lovasz_matches_brute_force_extension(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    n, c = 7, 3
    probs = torch.rand(n, c, generator=g, dtype=torch.float64).softmax(1)
    labels = torch.randint(0, c, (n,), generator=g)
    expected = []
    for k in range(c):
        gt = {i for i in range(n) if labels[i] == k}
        if not gt:
            continue
        errors = [abs(float(labels[i] == k) - float(probs[i, k])) for i in range(n)]
        expected.append(_lovasz_extension_by_levels(errors, gt))
    got = lovasz_softmax_flat(probs, labels, "present").item()
    assert got == pytest.approx(sum(expected) / len(expected), abs=1e-12)


def test_lovasz_ignores_pixels_and_gradient_flows() -> None:
    logits = torch.randn(2, 3, 4, 5, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 5))
    target[0, 0, :] = 255
    loss = lovasz_softmax(logits, target)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # ignored pixels get no gradient, and changing their logits changes nothing
    assert logits.grad[0, :, 0, :].abs().sum() == 0
    moved = logits.detach().clone()
    moved[0, :, 0, :] += 5.0
    assert lovasz_softmax(moved, target).item() == pytest.approx(loss.item())


def test_lovasz_per_image_and_perfect_prediction() -> None:
    target = torch.randint(0, 3, (2, 4, 4))
    logits = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float() * 50
    assert lovasz_softmax(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert lovasz_softmax(logits, target, per_image=True).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_by_hand() -> None:
    target = torch.tensor([[[0, 1], [1, 255]]])
    logits = torch.tensor([[[[0.0, 0.0], [0.0, 7.0]], [[0.0, 0.0], [0.0, -3.0]]]])
    # probabilities 0.5 everywhere on the 3 valid pixels
    # class 0: inter 0.5, |P| 1.5, |G| 1 -> (1 + 1) / (2.5 + 1); class 1: (2 + 1) / (3.5 + 1)
    expected = 1 - ((2.0 / 3.5) + (3.0 / 4.5)) / 2
    assert dice_loss(logits, target).item() == pytest.approx(expected)


def test_edge_targets_by_hand() -> None:
    t = torch.tensor([[[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 255]]])
    e = edge_targets(t)
    expected = torch.tensor([[[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, -1]]]).float()
    assert torch.equal(e, expected)
    t2 = torch.zeros(1, 5, 5, dtype=torch.long)
    t2[0, 4, 4] = 1
    e2 = edge_targets(t2)
    assert e2.sum() == 4 and e2[0, 3:, 3:].sum() == 4


def test_combined_loss_weights_and_class_weights() -> None:
    logits = torch.randn(2, 3, 6, 6)
    target = torch.randint(0, 3, (2, 6, 6))
    out = {"logits": logits, "edge_logits": torch.randn(2, 1, 6, 6)}
    cfg = SemanticLossConfig(ce=2.0, lovasz=0.5, dice=1.0, edge=0.3,
                             class_weights=(1.0, 2.0, 3.0))
    losses = semantic_loss(out, target, cfg)
    assert set(losses) == {"loss_ce", "loss_lovasz", "loss_dice", "loss_edge"}
    ce = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor([1.0, 2.0, 3.0]))
    assert losses["loss_ce"].item() == pytest.approx(2.0 * ce.item(), rel=1e-6)
    assert losses["loss_lovasz"].item() == pytest.approx(
        0.5 * lovasz_softmax(logits, target).item(), rel=1e-6)
    with pytest.raises(ValueError, match="edge head"):
        semantic_loss({"logits": logits}, target, cfg)
