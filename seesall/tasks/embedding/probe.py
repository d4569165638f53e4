"""Frozen-feature evaluation: linear probe (logistic regression) and k-NN accuracy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.tasks.embedding.metrics import knn


@torch.no_grad()
def extract(
    fn: Callable[[Tensor], Tensor], images: Tensor, *, size: int, batch_size: int = 256,
) -> Tensor:
    """``fn`` (e.g. ``model.features``) over uint8 images Tensor[N, C, H, W] -> Tensor[N, D].

    Images are scaled to [0, 1] and resized to ``size`` (bilinear). Modules reached
    through ``fn`` should be in eval mode (see :func:`eval_mode`).
    """
    out = [fn(to_input(images[s : s + batch_size], size))
           for s in range(0, len(images), batch_size)]
    return torch.cat(out)


def to_input(images: Tensor, size: int) -> Tensor:
    """uint8 Tensor[B, C, H, W] -> float [B, C, size, size] in [0, 1] (the evaluation input)."""
    x = images.float() / 255.0
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
    return x


class eval_mode:  # noqa: N801 - used like torch.no_grad
    """Context manager: put a module in eval mode, restore its mode afterwards."""

    def __init__(self, module: nn.Module) -> None:
        self.module, self.was_training = module, module.training

    def __enter__(self) -> nn.Module:
        return self.module.eval()

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was_training)


def linear_probe(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *, c: float = 1.0,
    max_iter: int = 2000,
) -> float:
    """Test accuracy of multinomial logistic regression on standardised frozen features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    clf = LogisticRegression(C=c, max_iter=max_iter)
    clf.fit(scaler.transform(train_x.numpy()), train_y.numpy())
    return float(clf.score(scaler.transform(test_x.numpy()), test_y.numpy()))


def knn_accuracy(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *, k: int = 5
) -> float:
    """Accuracy of a cosine k-NN majority vote (ties go to the smallest label)."""
    _, idx = knn(test_x, train_x, k)
    votes = train_y[idx]  # (Q, k)
    num_classes = int(max(train_y.max().item(), test_y.max().item())) + 1
    counts = torch.zeros(len(votes), num_classes).scatter_add_(1, votes, torch.ones_like(
        votes, dtype=torch.float32))
    return float((counts.argmax(dim=1) == test_y).float().mean().item())


def raw_pixels(images: Tensor) -> Tensor:
    """Flattened pixels in [0, 1] as features: uint8 [N, C, H, W] -> float [N, C*H*W]."""
    return images.flatten(1).float() / 255.0


def to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().numpy()
