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


PROBE_CS: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def linear_probe(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *,
    c: float | None = None, cs: tuple[float, ...] = PROBE_CS, val_fraction: float = 0.2,
    max_iter: int = 2000, seed: int = 0,
) -> float:
    """Test accuracy of multinomial logistic regression on standardised frozen features.

    The inverse regularisation strength is ``c`` if given; otherwise it is chosen from
    ``cs`` on a stratified validation split of the training features (:func:`select_c`;
    the test set is never seen), and the probe is refitted on all training features.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x.numpy())
    xtr = scaler.transform(train_x.numpy())
    if c is None:
        c = select_c(xtr, train_y.numpy(), cs=cs, val_fraction=val_fraction,
                     max_iter=max_iter, seed=seed)
    clf = LogisticRegression(C=c, max_iter=max_iter)
    clf.fit(xtr, train_y.numpy())
    return float(clf.score(scaler.transform(test_x.numpy()), test_y.numpy()))


def select_c(x: np.ndarray, y: np.ndarray, *, cs: tuple[float, ...] = PROBE_CS,
             val_fraction: float = 0.2, max_iter: int = 2000, seed: int = 0) -> float:
    """The ``C`` of ``cs`` whose logistic regression, fitted on a stratified
    ``1 - val_fraction`` of (x [N, D] standardised, y [N]), is most accurate on the rest;
    the first of ``cs`` on ties."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit

    if not cs:
        raise ValueError("linear_probe: cs must hold at least one C")
    split = StratifiedShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed)
    fit, val = next(split.split(x, y))
    scores = [LogisticRegression(C=c, max_iter=max_iter).fit(x[fit], y[fit]).score(x[val], y[val])
              for c in cs]
    return float(cs[int(np.argmax(scores))])


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
