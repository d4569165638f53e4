"""SimCLR (Chen et al. 2020): two augmented views, encoder + MLP projection, NT-Xent.

The model is an :class:`~seesall.tasks.embedding.models.EmbeddingNet` whose head
is the non-linear projection (no normalisation in the model: NT-Xent works on
cosines). After training the projection head is thrown away and the encoder's
features are evaluated by a linear probe and k-NN (:mod:`.probe`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from seesall.tasks.embedding.augment import AugmentConfig
from seesall.tasks.embedding.batch_augment import BatchAugment
from seesall.tasks.embedding.losses import nt_xent_loss
from seesall.tasks.embedding.models import ENCODERS, EmbeddingNet, MLPHead


def simclr_net(encoder: str, *, proj_dim: int = 64, hidden_dim: int = 256) -> EmbeddingNet:
    """Encoder of :data:`ENCODERS` + projection MLP to ``proj_dim`` (unnormalised output)."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from {sorted(ENCODERS)}")
    enc = ENCODERS[encoder]()
    head = MLPHead(in_dim=enc.out_dim, hidden_dim=hidden_dim, out_dim=proj_dim)
    return EmbeddingNet(encoder=enc, head=head, normalize=False)


class SimCLRLoss:
    """``(model, images uint8 Tensor[B, C, H, W]) -> {"loss_nt_xent": scalar}``.

    Draws two views of every image with ``augment``, projects both with the model
    and applies NT-Xent at ``temperature`` over the 2B views.
    """

    def __init__(self, *, augment: AugmentConfig, temperature: float = 0.5,
                 generator: torch.Generator | None = None) -> None:
        self.augment = BatchAugment(augment, generator=generator)
        self.temperature = temperature

    def views(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.augment(images), self.augment(images)

    def __call__(self, model: EmbeddingNet, images: Tensor) -> dict[str, Tensor]:
        v1, v2 = self.views(images)
        b = len(images)
        z = model(torch.cat([v1, v2], dim=0))  # (2B, D): one forward so BatchNorm sees both views
        return {"loss_nt_xent": nt_xent_loss(z[:b], z[b:], temperature=self.temperature)}

