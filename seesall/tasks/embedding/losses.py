"""Metric-learning losses: contrastive, triplet, cosine verification, pairwise hinge, NT-Xent.

Every function takes embeddings that are already paired up (rows of ``x1`` and
``x2`` form pairs; rows of anchor/positive/negative form triplets) and returns
a loss tensor reduced by ``reduction``:

- ``"mean"``: mean over all pairs/triplets;
- ``"nonzero"``: mean over the pairs/triplets whose loss is > 0 (the "batch
  all" average of FaceNet-style training and of pytorch-metric-learning's
  ``AvgNonZeroReducer``), 0 when none is;
- ``"sum"``, ``"none"`` (one value per pair/triplet).

Which pairs/triplets to use is the job of :mod:`seesall.tasks.embedding.miners`;
:class:`MetricLoss` ties a miner and a loss into a ``(embeddings, labels) ->
dict[str, Tensor]`` criterion for training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

REDUCTIONS = ("mean", "nonzero", "sum", "none")


def reduce_loss(losses: Tensor, reduction: str) -> Tensor:
    """Reduce per-item ``losses`` (Tensor[N]) with one of :data:`REDUCTIONS`."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean() if losses.numel() else losses.sum()
    if reduction == "nonzero":
        nonzero = losses > 0
        if not bool(nonzero.any()):
            return losses.sum() * 0.0
        return losses[nonzero].mean()
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_pairs(x1: Tensor, x2: Tensor, name: str = "x2") -> None:
    if x1.ndim != 2 or x1.shape != x2.shape:
        raise ValueError(
            f"expected two Tensor[N, D] of equal shape, got x1 {tuple(x1.shape)} "
            f"and {name} {tuple(x2.shape)}"
        )


def _check_targets(same: Tensor, n: int) -> Tensor:
    if same.shape != (n,):
        raise ValueError(f"'same' must be Tensor[{n}] of 0/1, got shape {tuple(same.shape)}")
    return same.to(torch.float32)


def pair_distance(x1: Tensor, x2: Tensor, *, squared: bool = False, eps: float = 1e-12) -> Tensor:
    """Euclidean distance between rows: Tensor[N, D] x2 -> Tensor[N].

    The square root is taken of ``max(d², eps)`` so the gradient stays finite at d = 0.
    """
    d2 = (x1 - x2).pow(2).sum(dim=1)
    return d2 if squared else d2.clamp_min(eps).sqrt()


def contrastive_loss(
    x1: Tensor, x2: Tensor, same: Tensor, *, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """Contrastive (margin) loss of Hadsell, Chopra & LeCun (2006).

    ``ℓ = y·d² + (1 − y)·max(0, m − d)²`` with ``d = ‖x1 − x2‖₂`` and ``y = 1`` for a
    pair of the same class: positives are pulled together, negatives pushed
    until they are at least ``m`` apart.

    Args:
        x1, x2: Tensor[N, D] paired embeddings.
        same: Tensor[N] with 1 for a positive pair, 0 for a negative pair.
    """
    _check_pairs(x1, x2)
    y = _check_targets(same, x1.shape[0])
    d = pair_distance(x1, x2)
    losses = y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2)
    return reduce_loss(losses, reduction)


def triplet_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    margin: float = 0.2,
    squared: bool = True,
    reduction: str = "mean",
) -> Tensor:
    """Triplet loss of FaceNet (Schroff et al. 2015).

    ``ℓ = max(0, m + d(a, p)² − d(a, n)²)`` with ``squared=True`` (FaceNet's form);
    ``squared=False`` uses plain distances, ``max(0, m + d(a, p) − d(a, n))``, as
    ``torch.nn.TripletMarginLoss`` and pytorch-metric-learning's default do.

    Args:
        anchor, positive, negative: Tensor[N, D].
    """
    _check_pairs(anchor, positive, "positive")
    _check_pairs(anchor, negative, "negative")
    d_ap = pair_distance(anchor, positive, squared=squared)
    d_an = pair_distance(anchor, negative, squared=squared)
    return reduce_loss(F.relu(margin + d_ap - d_an), reduction)


def cosine_similarity_01(x1: Tensor, x2: Tensor) -> Tensor:
    """``M(x1, x2) = (1 + cos(x1, x2)) / 2`` in [0, 1]: Tensor[N, D] x2 -> Tensor[N]."""
    return (1.0 + F.cosine_similarity(x1, x2, dim=1, eps=1e-8)) / 2.0


def cosine_verification_loss(
    x1: Tensor, x2: Tensor, same: Tensor, *, reduction: str = "mean"
) -> Tensor:
    """Verification loss on a similarity in [0, 1], after the seed lecture's formula.

    The lecture writes ``L = T·M(x1, x2) + [1 − T]·[1 − M(x1, x2)]`` with
    ``M = cos(f(x1), f(x2))`` and ``T = 1`` for "same person". Taken literally as
    a loss to *minimise*, that pushes same-person pairs apart (it rewards low M
    when T = 1), which contradicts the lecture's own goal ("close ~ cosine,
    far ~ 1 − cosine"). We read the lecture's expression as the *agreement* to
    maximise, with ``M`` the cosine mapped to [0, 1] as ``(1 + cos) / 2`` so both
    terms are non-negative, and minimise its complement::

        L = 1 − [T·M + (1 − T)(1 − M)] = T·(1 − M) + (1 − T)·M

    so 0 is reached for identical directions of a positive pair (T = 1) and
    opposite directions of a negative pair (T = 0).

    Args:
        x1, x2: Tensor[N, D] paired embeddings (need not be normalised).
        same: Tensor[N], 1 (same identity) or 0 (different).
    """
    _check_pairs(x1, x2)
    t = _check_targets(same, x1.shape[0])
    m = cosine_similarity_01(x1, x2)
    losses = t * (1 - m) + (1 - t) * m
    return reduce_loss(losses, reduction)


def cosine_embedding_loss(
    x1: Tensor, x2: Tensor, same: Tensor, *, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """The usual cosine-embedding form (``torch.nn.CosineEmbeddingLoss``).

    ``ℓ = 1 − cos`` for a positive pair, ``max(0, cos − margin)`` for a negative one.
    """
    _check_pairs(x1, x2)
    t = _check_targets(same, x1.shape[0])
    cos = F.cosine_similarity(x1, x2, dim=1, eps=1e-8)
    losses = t * (1 - cos) + (1 - t) * F.relu(cos - margin)
    return reduce_loss(losses, reduction)


def pairwise_hinge_loss(
    query: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    delta: float = 0.1,
    reduction: str = "mean",
) -> Tensor:
    """Pairwise hinge (ranking) loss for search: ``L = max(0, δ − M(q, i⁺) + M(q, i⁻))``.

    ``M`` is the cosine similarity, so a relevant image must score at least δ
    above an irrelevant one for the same query. Equals
    ``torch.nn.MarginRankingLoss(margin=δ)(M(q, i⁺), M(q, i⁻), 1)``.

    Args:
        query, positive, negative: Tensor[N, D].
    """
    _check_pairs(query, positive, "positive")
    _check_pairs(query, negative, "negative")
    s_pos = F.cosine_similarity(query, positive, dim=1, eps=1e-8)
    s_neg = F.cosine_similarity(query, negative, dim=1, eps=1e-8)
    return reduce_loss(F.relu(delta - s_pos + s_neg), reduction)


def nt_xent_loss(z1: Tensor, z2: Tensor, *, temperature: float = 0.5) -> Tensor:
    """NT-Xent (normalised temperature-scaled cross entropy) of SimCLR (Chen et al. 2020).

    For the 2B views ``z = [z1; z2]`` every view i has one positive, the other
    view of the same image, and 2B − 2 negatives; with ``s = cos / τ``::

        ℓ_i = −log( exp(s_{i,pos(i)}) / Σ_{k ≠ i} exp(s_{i,k}) )

    and the loss is the mean of ℓ over all 2B views.

    Args:
        z1, z2: Tensor[B, D] projections of the two views (need not be normalised).
    """
    _check_pairs(z1, z2, "z2")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)  # (2B, D)
    logits = z @ z.t() / temperature  # (2B, 2B)
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, target)
