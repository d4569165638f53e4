"""Retrieval metrics: recall@K, precision@K, R-precision and mAP@R.

Definitions follow Musgrave et al., "A Metric Learning Reality Check" (2020), as
implemented by pytorch-metric-learning's ``AccuracyCalculator``:

- neighbours are ranked by cosine similarity (= Euclidean order for normalised
  vectors); when the reference set *is* the query set a query never retrieves
  itself;
- R = number of references with the query's label (excluding the query itself);
  queries with R = 0 ("lone" queries) are left out of every average;
- ``precision_at_1``: top-1 neighbour has the query's label;
- ``recall_at_k``: at least one of the top-k has the query's label (the
  "Recall@K" of the metric-learning literature; equals precision_at_1 at k=1);
- ``precision_at_k``: fraction of the top-k with the query's label;
- ``r_precision``: fraction of the top-R with the query's label;
- ``map_at_r``: (1/R) Σ_{i ≤ R} P@i · rel(i), mean average precision
  truncated at R.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def knn(
    query: Tensor, reference: Tensor, k: int, *, exclude_self: bool = False, chunk: int = 2048
) -> tuple[Tensor, Tensor]:
    """Top-k cosine neighbours of every query: (scores Tensor[Q, k], indices Tensor[Q, k]).

    With ``exclude_self`` the reference is the query set and row i never returns i.
    """
    if query.ndim != 2 or reference.ndim != 2 or query.shape[1] != reference.shape[1]:
        raise ValueError(
            f"query and reference must be Tensor[Q, D] and Tensor[N, D]; got "
            f"{tuple(query.shape)} and {tuple(reference.shape)}"
        )
    q, r = F.normalize(query.float(), dim=1), F.normalize(reference.float(), dim=1)
    k = min(k, len(r) - int(exclude_self))
    scores, indices = [], []
    for s in range(0, len(q), chunk):
        sim = q[s : s + chunk] @ r.t()  # (chunk, N)
        if exclude_self:
            rows = torch.arange(len(sim))
            sim[rows, rows + s] = float("-inf")
        top = sim.topk(k, dim=1)
        scores.append(top.values)
        indices.append(top.indices)
    return torch.cat(scores), torch.cat(indices)


def retrieval_metrics(
    query: Tensor,
    query_labels: Tensor,
    reference: Tensor | None = None,
    reference_labels: Tensor | None = None,
    *,
    ks: tuple[int, ...] = (1, 5, 10),
) -> dict[str, float]:
    """All retrieval metrics of the module docstring.

    Args:
        query: Tensor[Q, D]; query_labels: Tensor[Q] int.
        reference, reference_labels: Tensor[N, D], Tensor[N]; when omitted the
            queries are searched among themselves (leave-one-out).
    """
    exclude_self = reference is None
    if reference is None or reference_labels is None:
        reference, reference_labels = query, query_labels
    if len(query) != len(query_labels) or len(reference) != len(reference_labels):
        raise ValueError("embeddings and labels must have the same length")
    match_counts = (query_labels[:, None] == reference_labels[None, :]).sum(dim=1)
    r = match_counts - int(exclude_self)  # (Q,)
    kmax = max(int(r.max().item()) if len(r) else 0, max(ks))
    _, idx = knn(query, reference, kmax, exclude_self=exclude_self)
    rel = (reference_labels[idx] == query_labels[:, None]).double()  # (Q, k)
    keep = r > 0
    rel, r = rel[keep], r[keep]
    out: dict[str, float] = {"precision_at_1": rel[:, 0].mean().item()}
    for k in ks:
        out[f"recall_at_{k}"] = (rel[:, :k].sum(dim=1) > 0).double().mean().item()
        out[f"precision_at_{k}"] = (rel[:, :k].sum(dim=1) / k).mean().item()
    ranks = torch.arange(1, rel.shape[1] + 1, dtype=torch.float64)
    within_r = ranks[None, :] <= r[:, None]  # (Q, k)
    rel_r = rel * within_r
    out["r_precision"] = (rel_r.sum(dim=1) / r).mean().item()
    precision_at_i = rel_r.cumsum(dim=1) / ranks
    out["map_at_r"] = ((precision_at_i * rel_r).sum(dim=1) / r).mean().item()
    out["num_queries"] = float(keep.sum().item())
    return out


class RetrievalMetric:
    """Leave-one-out retrieval metrics over everything seen: ``reset / update / compute``."""

    def __init__(self, *, ks: tuple[int, ...] = (1, 5, 10)) -> None:
        self.ks = ks
        self.reset()

    def reset(self) -> None:
        self._emb: list[Tensor] = []
        self._labels: list[Tensor] = []

    def update(self, embeddings: Tensor, labels: Tensor) -> None:
        """embeddings: Tensor[B, D]; labels: Tensor[B]."""
        if embeddings.ndim != 2 or labels.shape != embeddings.shape[:1]:
            raise ValueError(
                f"expected Tensor[B, D] embeddings and Tensor[B] labels, got "
                f"{tuple(embeddings.shape)} and {tuple(labels.shape)}"
            )
        self._emb.append(embeddings.detach().cpu())
        self._labels.append(labels.detach().cpu())

    def compute(self) -> dict[str, float]:
        if not self._emb:
            raise ValueError("RetrievalMetric.compute() called before any update()")
        return retrieval_metrics(torch.cat(self._emb), torch.cat(self._labels), ks=self.ks)
