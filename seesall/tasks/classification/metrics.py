"""Top-k accuracy with the engine's evaluator contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor


class TopKAccuracy:
    """Fraction of samples whose true class is among the k highest scores, per k.

    ``update(scores, batch)``: scores Tensor[B, K] (probabilities or logits), batch whose
    second item is the labels Tensor[B]. Ties at the k-th score are broken by
    ``torch.topk`` (as sklearn's ``top_k_accuracy_score`` with distinct scores).
    Keys: ``top1``, ``top5`` (k capped at the number of classes), and ``count``.
    """

    def __init__(self, ks: Sequence[int] = (1, 5)) -> None:
        if not ks or any(k < 1 for k in ks):
            raise ValueError(f"TopKAccuracy ks must be positive, got {list(ks)}")
        self.ks = tuple(ks)
        self.reset()

    def reset(self) -> None:
        self.correct = {k: 0 for k in self.ks}
        self.count = 0

    def update(self, scores: Tensor, batch: Any) -> None:
        labels = batch[1]
        if scores.ndim != 2 or labels.shape != scores.shape[:1]:
            raise ValueError(f"TopKAccuracy: scores {tuple(scores.shape)} vs labels {tuple(labels.shape)}")
        top = scores.topk(min(max(self.ks), scores.shape[1]), dim=1).indices  # (B, kmax)
        hit = top == labels[:, None].to(top.device)  # (B, kmax)
        for k in self.ks:
            self.correct[k] += int(hit[:, :k].any(dim=1).sum())
        self.count += int(labels.numel())

    def compute(self) -> dict[str, float]:
        n = max(self.count, 1)
        out = {f"top{k}": self.correct[k] / n for k in self.ks}
        out["count"] = float(self.count)
        return out

    def state(self) -> dict[str, Any]:
        return {"correct": dict(self.correct), "count": self.count}

    def merge(self, states: list[dict[str, Any]]) -> None:
        self.correct = {k: sum(s["correct"][k] for s in states) for k in self.ks}
        self.count = sum(s["count"] for s in states)
