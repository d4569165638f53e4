"""Clip classification metrics: top-1 / top-5 accuracy and per-class top-1."""

from __future__ import annotations

import torch
from torch import Tensor


class TopKAccuracy:
    """Accumulates top-k accuracy over a set of clips.

    ``update(logits Tensor[B, K], labels Tensor[B])``; ``compute()`` -> {"top1", "top5"} in
    percent (top-k with k >= K counts every clip as correct) and {"top1/<class>"} per class
    seen, keyed by ``class_names`` when given.
    """

    def __init__(self, *, class_names: tuple[str, ...] | None = None, ks: tuple[int, ...] = (1, 5)):
        self.class_names = class_names
        self.ks = ks
        self.reset()

    def reset(self) -> None:
        self._correct = dict.fromkeys(self.ks, 0)
        self._count = 0
        self._per_class: dict[int, list[int]] = {}

    def update(self, logits: Tensor, labels: Tensor) -> None:
        if logits.ndim != 2 or labels.shape != logits.shape[:1]:
            raise ValueError(f"logits must be [B, K] and labels [B], got {list(logits.shape)} "
                             f"and {list(labels.shape)}")
        order = logits.argsort(dim=1, descending=True)  # (B, K)
        hit_rank = (order == labels[:, None]).float().argmax(dim=1)  # rank of the true class
        for k in self.ks:
            self._correct[k] += int((hit_rank < k).sum())
        self._count += int(labels.numel())
        for lab, r in zip(labels.tolist(), hit_rank.tolist(), strict=True):
            c = self._per_class.setdefault(lab, [0, 0])
            c[0] += int(r == 0)
            c[1] += 1

    def compute(self) -> dict[str, float]:
        out = {f"top{k}": 100.0 * self._correct[k] / max(self._count, 1) for k in self.ks}
        for lab in sorted(self._per_class):
            name = self.class_names[lab] if self.class_names else str(lab)
            ok, n = self._per_class[lab]
            out[f"top1/{name}"] = 100.0 * ok / n
        return out


def confusion_matrix(logits: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Tensor[K, K] int64 counts, rows = true class, columns = predicted class."""
    pred = logits.argmax(dim=1)
    return torch.bincount(labels * num_classes + pred, minlength=num_classes**2).view(
        num_classes, num_classes)
