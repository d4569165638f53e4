"""Semantic-segmentation losses: cross-entropy, Lovász-softmax, Dice, edge BCE, and their sum.

Lovász-softmax (Berman, Triki & Blaschko, CVPR 2018): for class c with ground truth
indicator g ∈ {0,1}^P and per-pixel errors m_i = |g_i − p_i(c)|, the loss is the
Lovász extension of the Jaccard loss Δ_J evaluated at m:

    loss_c(m) = Σ_i m_π(i) · (Δ_J({π(1..i)}) − Δ_J({π(1..i−1)})),

where π sorts the errors in decreasing order and Δ_J(S) = 1 − |G ∖ S| / |G ∪ S| is the
Jaccard loss when the pixels in S are the mispredicted ones. Pixels with the ignore
label are removed before sorting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.structures import IGNORE_INDEX


def lovasz_grad(gt_sorted: Tensor) -> Tensor:
    """Tensor[P] of 0/1 (sorted by decreasing error) -> Tensor[P] Δ_J increments
    Δ_J(π(1..i)) − Δ_J(π(1..i−1)) (Berman et al. 2018, Alg. 1)."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt_sorted.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def lovasz_softmax_flat(probs: Tensor, labels: Tensor, classes: str | list[int] = "present"
                        ) -> Tensor:
    """probs: Tensor[P, C] softmax probabilities; labels: Tensor[P] (ignored pixels removed).

    ``classes``: "present" averages over classes present in ``labels``, "all" over all C,
    or a list of class indices. Returns a scalar (0 when no pixel or class is left)."""
    if probs.numel() == 0:
        return probs.sum() * 0.0
    num_classes = probs.shape[1]
    class_list = range(num_classes) if classes in ("all", "present") else classes
    losses = []
    for c in class_list:
        fg = (labels == c).to(probs.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probs[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
    if not losses:
        return probs.sum() * 0.0
    return torch.stack(losses).mean()


def lovasz_softmax(logits: Tensor, target: Tensor, *, classes: str | list[int] = "present",
                   per_image: bool = False, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Lovász-softmax loss. logits: Tensor[B, C, H, W]; target: Tensor[B, H, W] int64."""
    probs = logits.softmax(dim=1)
    if per_image:
        return torch.stack([lovasz_softmax(lg[None], t[None], classes=classes,
                                           ignore_index=ignore_index)
                            for lg, t in zip(logits, target, strict=True)]).mean()
    flat = probs.permute(0, 2, 3, 1).reshape(-1, probs.shape[1])  # (BHW, C)
    labels = target.reshape(-1)  # (BHW,)
    valid = labels != ignore_index
    return lovasz_softmax_flat(flat[valid], labels[valid], classes)


def dice_loss(logits: Tensor, target: Tensor, *, ignore_index: int = IGNORE_INDEX,
              eps: float = 1.0) -> Tensor:
    """Soft multi-class Dice loss 1 − mean_c (2|P_c∩G_c| + eps) / (|P_c| + |G_c| + eps) over
    all C classes (a class absent from both scores 1), over the batch; ignored pixels excluded."""
    num_classes = logits.shape[1]
    probs = logits.softmax(dim=1)
    valid = (target != ignore_index).unsqueeze(1).to(probs.dtype)  # (B, 1, H, W)
    onehot = F.one_hot(target.clamp(0, num_classes - 1).where(target != ignore_index,
                                                               torch.zeros_like(target)),
                       num_classes).permute(0, 3, 1, 2).to(probs.dtype)  # (B, C, H, W)
    probs, onehot = probs * valid, onehot * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return 1.0 - ((2.0 * inter + eps) / (denom + eps)).mean()


def edge_targets(target: Tensor, *, ignore_index: int = IGNORE_INDEX, width: int = 1) -> Tensor:
    """Boundary targets from a label map: Tensor[B, H, W] int64 -> Tensor[B, H, W] float
    with 1 where a pixel's (2·width+1)² neighbourhood holds another label, 0 elsewhere,
    and -1 (to be ignored) at ignore pixels."""
    t = target.unsqueeze(1).float()  # (B, 1, H, W)
    k = 2 * width + 1
    padded = F.pad(t, (width,) * 4, mode="replicate")
    hi = F.max_pool2d(padded, k, stride=1)
    lo = -F.max_pool2d(-padded, k, stride=1)
    edges = (hi != lo).float().squeeze(1)
    return edges.masked_fill(target == ignore_index, -1.0)


def edge_loss(edge_logits: Tensor, target: Tensor, *, ignore_index: int = IGNORE_INDEX
              ) -> Tensor:
    """BCE between Tensor[B, 1, H, W] edge logits and ``edge_targets(target)``, with the
    positive class re-weighted by the negative/positive ratio (edges are rare)."""
    e = edge_targets(target, ignore_index=ignore_index)
    valid = e >= 0
    logits = edge_logits.squeeze(1)[valid]
    e = e[valid]
    pos = e.sum().clamp(min=1.0)
    pos_weight = ((e.numel() - pos) / pos).clamp(min=1.0)
    return F.binary_cross_entropy_with_logits(logits, e, pos_weight=pos_weight)


@dataclass(frozen=True)
class SemanticLossConfig:
    """Weights of each term (0 turns a term off) and the options they share."""

    ce: float = 1.0
    lovasz: float = 0.0
    dice: float = 0.0
    edge: float = 0.0
    ignore_index: int = IGNORE_INDEX
    class_weights: tuple[float, ...] | None = None
    lovasz_classes: Literal["present", "all"] = "present"


def semantic_loss(outputs: dict[str, Tensor], target: Tensor, cfg: SemanticLossConfig
                  ) -> dict[str, Tensor]:
    """outputs: ``logits`` Tensor[B, C, H, W] (+ ``edge_logits``); target: Tensor[B, H, W].
    Returns the weighted terms ``loss_ce``, ``loss_lovasz``, ``loss_dice``, ``loss_edge``
    that are switched on (their sum is the training loss)."""
    logits = outputs["logits"]
    if logits.shape[-2:] != target.shape[-2:]:
        raise ValueError(f"logits spatial size {list(logits.shape[-2:])} != target "
                         f"{list(target.shape[-2:])}")
    losses: dict[str, Tensor] = {}
    if cfg.ce:
        w = None if cfg.class_weights is None else logits.new_tensor(cfg.class_weights)
        losses["loss_ce"] = cfg.ce * F.cross_entropy(logits, target, weight=w,
                                                     ignore_index=cfg.ignore_index)
    if cfg.lovasz:
        losses["loss_lovasz"] = cfg.lovasz * lovasz_softmax(
            logits, target, classes=cfg.lovasz_classes, ignore_index=cfg.ignore_index)
    if cfg.dice:
        losses["loss_dice"] = cfg.dice * dice_loss(logits, target, ignore_index=cfg.ignore_index)
    if cfg.edge:
        if "edge_logits" not in outputs:
            raise ValueError("edge loss weight > 0 but the model has no edge head")
        losses["loss_edge"] = cfg.edge * edge_loss(outputs["edge_logits"], target,
                                                   ignore_index=cfg.ignore_index)
    return losses
