"""Triplet miners: which (anchor, positive, negative) triplets of a batch to train on.

Every miner takes a distance matrix ``dist`` (Tensor[B, B], Euclidean) and the
batch's ``labels`` (Tensor[B]) and returns :class:`Triplets` of indices into the
batch. Every positive pair (a, p), a ≠ p, of the batch is an anchor-positive
pair; the miners differ in which negative(s) they attach to it:

- :func:`random_triplets`: one negative drawn uniformly (the baseline);
- :func:`hardest_negative_triplets`: the closest negative to the anchor;
- :func:`batch_hard_triplets`: per anchor, the farthest positive and the
  closest negative ("batch hard", Hermans et al. 2017);
- :func:`semihard_triplets`: negatives with ``d(a,p) < d(a,n) < d(a,p) + m``
  (FaceNet, Schroff et al. 2015): all of them, or the closest one per pair;
- :func:`distance_weighted_triplets`: one negative drawn with probability
  ∝ 1 / q(d), q the density of distances between random points on the unit
  sphere ("Sampling matters in deep embedding learning", Wu et al. 2017).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Triplets(NamedTuple):
    """Indices into the batch: each Tensor[T] int64."""

    anchor: Tensor
    positive: Tensor
    negative: Tensor


def distance_matrix(embeddings: Tensor, eps: float = 1e-12) -> Tensor:
    """Euclidean distances between all rows: Tensor[B, D] -> Tensor[B, B].

    Computed as sqrt(max(‖x‖² + ‖y‖² − 2 x·y, eps)) so it is differentiable at 0;
    the diagonal is exactly 0.
    """
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be Tensor[B, D], got shape {tuple(embeddings.shape)}")
    sq = embeddings.pow(2).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.t()  # (B, B)
    d = d2.clamp_min(eps).sqrt()
    return d * (1 - torch.eye(len(d), dtype=d.dtype, device=d.device))


def _masks(dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """(positive mask without the diagonal, negative mask), each Tensor[B, B] bool."""
    b = labels.shape[0]
    if labels.ndim != 1 or dist.shape != (b, b):
        raise ValueError(
            f"dist must be Tensor[B, B] and labels Tensor[B]; got {tuple(dist.shape)} "
            f"and {tuple(labels.shape)}"
        )
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(b, dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def positive_pairs(labels: Tensor) -> tuple[Tensor, Tensor]:
    """All ordered positive pairs (a, p), a ≠ p, as two Tensor[P] int64."""
    same = labels[:, None] == labels[None, :]
    same.fill_diagonal_(False)
    a, p = torch.nonzero(same, as_tuple=True)
    return a, p


def all_triplets(dist: Tensor, labels: Tensor) -> Triplets:
    """Every valid triplet: a, p same label (a ≠ p), n another label."""
    pos, neg = _masks(dist, labels)
    valid = pos[:, :, None] & neg[:, None, :]  # (B, B, B) over (a, p, n)
    a, p, n = torch.nonzero(valid, as_tuple=True)
    return Triplets(a, p, n)


def _pairs_with_negatives(dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Positive pairs whose anchor has at least one negative, plus the negative mask."""
    pos, neg = _masks(dist, labels)
    a, p = torch.nonzero(pos, as_tuple=True)
    keep = neg[a].any(dim=1)
    return a[keep], p[keep], neg


def _sample_rows(weights: Tensor, generator: torch.Generator | None) -> Tensor:
    """One column index per row of ``weights`` (Tensor[T, B], rows with positive sum)."""
    if weights.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=weights.device)
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def random_triplets(
    dist: Tensor, labels: Tensor, *, generator: torch.Generator | None = None
) -> Triplets:
    """One uniformly random negative for every positive pair."""
    a, p, neg = _pairs_with_negatives(dist, labels)
    n = _sample_rows(neg[a].to(torch.float32), generator)
    return Triplets(a, p, n)


def hardest_negative_triplets(dist: Tensor, labels: Tensor) -> Triplets:
    """For every positive pair (a, p), the negative closest to a: argmin_n d(a, n)."""
    a, p, neg = _pairs_with_negatives(dist, labels)
    masked = dist.masked_fill(~neg, float("inf"))  # (B, B), only negatives finite
    return Triplets(a, p, masked.argmin(dim=1)[a])


def batch_hard_triplets(dist: Tensor, labels: Tensor) -> Triplets:
    """Per anchor with a positive and a negative: its farthest positive and closest negative."""
    pos, neg = _masks(dist, labels)
    keep = pos.any(dim=1) & neg.any(dim=1)
    a = torch.nonzero(keep).squeeze(1)
    p = dist.masked_fill(~pos, float("-inf")).argmax(dim=1)[a]
    n = dist.masked_fill(~neg, float("inf")).argmin(dim=1)[a]
    return Triplets(a, p, n)


def semihard_triplets(
    dist: Tensor, labels: Tensor, *, margin: float = 0.2, select: str = "all"
) -> Triplets:
    """Semi-hard triplets of FaceNet: ``d(a, p) < d(a, n) < d(a, p) + margin``.

    Such negatives are farther than the positive but still inside the margin, so
    they have a non-zero loss without being the (often noisy) hardest ones.

    Args:
        select: ``"all"`` returns every semi-hard triplet; ``"hardest"`` keeps, per
            positive pair, the semi-hard negative closest to the anchor (pairs
            without one are dropped).
    """
    if select not in ("all", "hardest"):
        raise ValueError(f"select must be 'all' or 'hardest', got {select!r}")
    pos, neg = _masks(dist, labels)
    a, p = torch.nonzero(pos, as_tuple=True)
    d_ap = dist[a, p][:, None]  # (P, 1)
    d_an = dist[a]  # (P, B)
    ok = neg[a] & (d_an > d_ap) & (d_an < d_ap + margin)  # (P, B)
    if select == "all":
        rows, n = torch.nonzero(ok, as_tuple=True)
        return Triplets(a[rows], p[rows], n)
    has = ok.any(dim=1)
    n = d_an.masked_fill(~ok, float("inf")).argmin(dim=1)
    return Triplets(a[has], p[has], n[has])


def distance_weights(
    dist: Tensor,
    labels: Tensor,
    *,
    dim: int,
    cutoff: float = 0.5,
    nonzero_loss_cutoff: float = 1.4,
) -> Tensor:
    """Sampling weights of Wu et al. (2017), normalised per anchor: Tensor[B, B].

    For points uniform on the unit sphere in R^n the pairwise distance has density
    ``q(d) ∝ d^(n−2) · (1 − d²/4)^((n−3)/2)``. A negative at distance d is drawn
    with weight ``1 / q(max(d, cutoff))`` (the cutoff bounds the weights of very
    close pairs), and with weight 0 when ``d ≥ nonzero_loss_cutoff`` (it would have
    zero loss) or when it is not a negative. Rows with no admissible negative are
    all zero. ``dist`` must come from L2-normalised embeddings (d ∈ [0, 2]).
    """
    if dim < 4:
        raise ValueError(f"distance-weighted sampling needs embedding dim >= 4, got {dim}")
    _, neg = _masks(dist, labels)
    d = dist.clamp(min=cutoff, max=2.0 - 1e-4)
    log_q = (dim - 2) * torch.log(d) + ((dim - 3) / 2) * torch.log(1.0 - 0.25 * d.pow(2))
    log_w = (-log_q).masked_fill(~neg | (dist >= nonzero_loss_cutoff), float("-inf"))
    row_max = log_w.max(dim=1, keepdim=True).values
    w = torch.exp(log_w - row_max.clamp_min(torch.finfo(log_w.dtype).min))
    w = torch.nan_to_num(w, nan=0.0)
    total = w.sum(dim=1, keepdim=True)
    return torch.where(total > 0, w / total.clamp_min(1e-30), torch.zeros_like(w))


def distance_weighted_triplets(
    dist: Tensor,
    labels: Tensor,
    *,
    dim: int,
    cutoff: float = 0.5,
    nonzero_loss_cutoff: float = 1.4,
    generator: torch.Generator | None = None,
) -> Triplets:
    """For every positive pair, one negative drawn from :func:`distance_weights` of its anchor.

    Anchors whose every negative lies beyond ``nonzero_loss_cutoff`` get no triplet.
    """
    w = distance_weights(dist, labels, dim=dim, cutoff=cutoff,
                         nonzero_loss_cutoff=nonzero_loss_cutoff)
    pos, _ = _masks(dist, labels)
    a, p = torch.nonzero(pos, as_tuple=True)
    keep = w[a].sum(dim=1) > 0
    a, p = a[keep], p[keep]
    return Triplets(a, p, _sample_rows(w[a], generator))
