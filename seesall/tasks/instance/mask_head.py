"""Mask R-CNN mask head (He et al. 2017, FPN variant) and mask pasting.

RoIAlign 14×14 -> four 3×3 convs -> 2×2 stride-2 transposed conv -> 1×1 conv to K
class-specific 28×28 mask logits. The loss is a per-pixel BCE on the channel of the
RoI's ground-truth class; targets are the ground-truth mask cropped to the RoI with
``torchvision.ops.roi_align`` and thresholded at 0.5 (as in detectron2).

Pasting (``paste_masks``) is written here: each image pixel centre (x + ½, y + ½) is
mapped into the box's M×M mask and the mask is sampled bilinearly
(``F.grid_sample``, zero outside the box), then thresholded. A box of exactly M×M
pixels on integer coordinates reproduces the mask exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign, roi_align

from seesall.nn.roi_convs import init_relu_convs, roi_conv_tower


class MaskHead(nn.Module):
    """Args:
        featmap_names: FPN levels to pool from; in_channels: their channels.
        num_classes: K (one mask per class).
        channels: conv width; num_convs: number of 3×3 convs; resolution: pooled side (14).
    """

    def __init__(self, *, featmap_names: list[str], in_channels: int, num_classes: int,
                 channels: int = 128, num_convs: int = 4, resolution: int = 14) -> None:
        super().__init__()
        self.pooler = MultiScaleRoIAlign(featmap_names, resolution, 2)
        self.convs = roi_conv_tower(in_channels, channels, num_convs)
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.predictor = nn.Conv2d(channels, num_classes, 1)
        self.num_classes, self.mask_size = num_classes, 2 * resolution
        init_relu_convs(self)

    def forward(self, features: dict[str, Tensor], rois: list[Tensor],
                image_shape: tuple[int, int]) -> Tensor:
        """rois: per image Tensor[R_i, 4] -> mask logits Tensor[R, K, 28, 28]."""
        if sum(len(b) for b in rois) == 0:
            ref = next(iter(features.values()))
            return ref.new_zeros(0, self.num_classes, self.mask_size, self.mask_size)
        x = self.pooler(features, rois, [image_shape] * len(rois))  # (R, C, 14, 14)
        x = F.relu(self.deconv(self.convs(x)))  # (R, C, 28, 28)
        return self.predictor(x)


def mask_targets(gt_masks: Tensor, rois: Tensor, size: int) -> Tensor:
    """Ground-truth masks cropped to RoIs: Tensor[R, H, W] (the gt mask of each RoI) and
    Tensor[R, 4] -> Tensor[R, size, size] float in {0, 1}."""
    if rois.shape[0] == 0:
        return rois.new_zeros(0, size, size)
    boxes = torch.cat([torch.arange(len(rois), device=rois.device, dtype=rois.dtype)[:, None],
                       rois], dim=1)  # (R, 5): index, x1, y1, x2, y2
    crops = roi_align(gt_masks[:, None].float(), boxes, (size, size), 1.0, 0, aligned=True)
    return (crops[:, 0] >= 0.5).float()


def mask_loss(mask_logits: Tensor, labels: Tensor, targets: Tensor) -> Tensor:
    """BCE of the class-specific channel: Tensor[R, K, M, M], Tensor[R] (0-based), Tensor[R,
    M, M] -> scalar (0 without RoIs, keeping the graph)."""
    if mask_logits.shape[0] == 0:
        return mask_logits.sum() * 0.0
    chosen = mask_logits[torch.arange(len(labels), device=labels.device), labels]
    return F.binary_cross_entropy_with_logits(chosen, targets)


def paste_masks(masks: Tensor, boxes: Tensor, image_size: tuple[int, int],
                threshold: float | None = 0.5) -> Tensor:
    """Masks of boxes into the image.

    Args:
        masks: Tensor[N, M, M] probabilities; boxes: Tensor[N, 4] XYXY pixels.
        image_size: (H, W). threshold: binarise at this value (None: keep probabilities).
    Returns:
        Tensor[N, H, W] bool (or float when ``threshold`` is None).
    """
    n = masks.shape[0]
    h, w = image_size
    if n == 0:
        return masks.new_zeros((0, h, w), dtype=torch.bool if threshold is not None else None)
    x1, y1, x2, y2 = (boxes[:, i].view(n, 1) for i in range(4))
    xs = torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5
    ys = torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5
    gx = (xs[None] - x1) / (x2 - x1).clamp(min=1e-6) * 2 - 1  # (N, W), align_corners=False
    gy = (ys[None] - y1) / (y2 - y1).clamp(min=1e-6) * 2 - 1  # (N, H)
    grid = torch.stack([gx[:, None, :].expand(n, h, w), gy[:, :, None].expand(n, h, w)], dim=3)
    out = F.grid_sample(masks[:, None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)[:, 0]  # (N, H, W)
    return out if threshold is None else out >= threshold
