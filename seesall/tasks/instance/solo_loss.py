"""SOLO losses: sigmoid focal loss on the category grids, Dice loss on positive cells' masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import sigmoid_focal_loss

from seesall.tasks.instance.solo_head import cell_masks
from seesall.tasks.instance.solo_targets import SOLOTargetConfig, solo_level_targets


@dataclass(frozen=True)
class SOLOLossConfig:
    """Target assignment plus loss weights (SOLO: focal α=0.25, γ=2, Dice weight 3)."""

    targets: SOLOTargetConfig = field(default_factory=SOLOTargetConfig)
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    cate_weight: float = 1.0
    dice_weight: float = 3.0


def dice_loss_per_mask(probs: Tensor, target: Tensor, eps: float = 1e-3) -> Tensor:
    """SOLO's Dice loss 1 − 2Σpq / (Σp² + Σq²): Tensor[P, h, w] x2 -> Tensor[P]."""
    p, q = probs.flatten(1), target.flatten(1).float()  # (P, hw)
    return 1.0 - 2.0 * (p * q).sum(1) / ((p * p).sum(1) + (q * q).sum(1) + eps)


def resize_masks(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Tensor[N, H, W] bool -> Tensor[N, h, w] bool (bilinear, threshold 0.5)."""
    if masks.shape[0] == 0:
        return masks.new_zeros((0, *size), dtype=torch.bool)
    return F.interpolate(masks[:, None].float(), size=size, mode="bilinear",
                         align_corners=False)[:, 0] >= 0.5


def solo_loss(outputs: dict[str, list[Tensor]], masks: list[Tensor], labels: list[Tensor],
              boxes: list[Tensor], cfg: SOLOLossConfig) -> dict[str, Tensor]:
    """Losses of a batch.

    Args:
        outputs: SOLOHead outputs for images of padded size (H, W).
        masks: per image Tensor[N_b, H, W] bool on the padded image; labels: Tensor[N_b];
            boxes: Tensor[N_b, 4] XYXY.
    Returns:
        ``loss_cate`` (focal, summed over cells and classes / (positives + 1)) and
        ``loss_mask`` (Dice × weight, mean over positive cells).
    """
    cate = outputs["cate"]
    grids = tuple(int(c.shape[-1]) for c in cate)
    if grids != tuple(cfg.targets.grids):
        raise ValueError(f"the model's category grids {grids} differ from the target grids "
                         f"{tuple(cfg.targets.grids)} of the loss config")
    num_classes = cate[0].shape[1]
    mask_key = "mask" if "mask" in outputs else "mask_x"
    image_size = (int(masks[0].shape[-2]), int(masks[0].shape[-1]))
    if any(tuple(m.shape[-2:]) != image_size for m in masks):
        raise ValueError("all gt masks must be on the padded image size "
                         f"{image_size}, got {[tuple(m.shape[-2:]) for m in masks]}")
    owners = [solo_level_targets(m, b, image_size, cfg.targets)
              for m, b in zip(masks, boxes, strict=True)]
    cate_logits, cate_targets, dice_terms = [], [], []
    for level, s in enumerate(cfg.targets.grids):
        own = torch.stack([o[level] for o in owners])  # (B, S²)
        logits = cate[level].permute(0, 2, 3, 1).reshape(-1, num_classes)  # (B·S², C)
        target = torch.zeros_like(logits)
        for b in range(len(masks)):
            pos = (own[b] >= 0).nonzero().squeeze(1)
            if pos.numel() == 0:
                continue
            target[b * s * s + pos, labels[b][own[b, pos]]] = 1.0
            hw = tuple(outputs[mask_key][level].shape[-2:])
            probs = cell_masks(outputs, level, torch.full_like(pos, b), pos, s)
            gt = resize_masks(masks[b][own[b, pos]].to(probs.device), hw)
            dice_terms.append(dice_loss_per_mask(probs, gt))
        cate_logits.append(logits)
        cate_targets.append(target)
    logits, target = torch.cat(cate_logits), torch.cat(cate_targets)
    num_pos = float(target.sum())
    loss_cate = sigmoid_focal_loss(logits, target, alpha=cfg.focal_alpha, gamma=cfg.focal_gamma,
                                   reduction="sum") / (num_pos + 1.0)
    if dice_terms:
        loss_mask = torch.cat(dice_terms).mean()
    else:  # keep the graph connected
        loss_mask = sum(o.sum() for o in outputs[mask_key]) * 0.0
    return {"loss_cate": cfg.cate_weight * loss_cate, "loss_mask": cfg.dice_weight * loss_mask}
