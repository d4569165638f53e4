"""Training criteria: a miner plus a loss, ``(embeddings, labels) -> dict[str, Tensor]``.

These are what a training loop calls on a labelled batch; the loss functions
themselves (:mod:`.losses`) work on already-formed pairs and triplets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from seesall.tasks.embedding import miners as M
from seesall.tasks.embedding.losses import contrastive_loss, triplet_loss

Miner = Callable[[Tensor, Tensor], M.Triplets]


def miner_table(*, margin: float, dim: int) -> dict[str, Miner]:
    """The miners by name (a plain table), parametrised by the loss margin and embedding dim."""
    return {
        "random": M.random_triplets,
        "hardest": M.hardest_negative_triplets,
        "batch_hard": M.batch_hard_triplets,
        "semihard": partial(M.semihard_triplets, margin=margin, select="all"),
        "distance_weighted": partial(M.distance_weighted_triplets, dim=dim),
        "all": M.all_triplets,
    }


class TripletCriterion:
    """Mine triplets in the batch, then average the triplet loss over them.

    Args:
        miner: ``(dist Tensor[B, B], labels Tensor[B]) -> Triplets``.
        margin: triplet margin m.
        squared: FaceNet's squared distances (True) or plain distances.
        reduction: ``"mean"`` or ``"nonzero"`` (mean over active triplets).
    """

    def __init__(
        self, *, miner: Miner, margin: float = 0.2, squared: bool = False,
        reduction: str = "mean",
    ) -> None:
        self.miner = miner
        self.margin = margin
        self.squared = squared
        self.reduction = reduction

    def __call__(self, embeddings: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """embeddings: Tensor[B, D]; labels: Tensor[B] -> {"loss_triplet": scalar}."""
        with torch.no_grad():
            t = self.miner(M.distance_matrix(embeddings), labels)
        if t.anchor.numel() == 0:
            return {"loss_triplet": embeddings.sum() * 0.0}
        loss = triplet_loss(
            embeddings[t.anchor], embeddings[t.positive], embeddings[t.negative],
            margin=self.margin, squared=self.squared, reduction=self.reduction,
        )
        return {"loss_triplet": loss}


class ContrastiveCriterion:
    """Contrastive loss over every pair of the batch, positives and negatives averaged apart.

    Returns ``{"loss_contrastive_pos", "loss_contrastive_neg"}`` so the (usually far
    more numerous) negative pairs do not drown out the positives.
    """

    def __init__(self, *, margin: float = 1.0) -> None:
        self.margin = margin

    def __call__(self, embeddings: Tensor, labels: Tensor) -> dict[str, Tensor]:
        """embeddings: Tensor[B, D]; labels: Tensor[B]."""
        i, j = torch.triu_indices(len(labels), len(labels), offset=1, device=labels.device)
        same = (labels[i] == labels[j]).to(torch.float32)
        per_pair = contrastive_loss(
            embeddings[i], embeddings[j], same, margin=self.margin, reduction="none"
        )
        zero = embeddings.sum() * 0.0
        pos, neg = same > 0, same == 0
        return {
            "loss_contrastive_pos": per_pair[pos].mean() if pos.any() else zero,
            "loss_contrastive_neg": per_pair[neg].mean() if neg.any() else zero,
        }
