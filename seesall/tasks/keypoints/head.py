"""Keypoint R-CNN head (He et al., "Mask R-CNN", sec. 5): K heatmaps per RoI.

RoIAlign 14×14 -> conv stack -> 4×4 stride-2 transposed conv (28×28) -> ×2 bilinear
(56×56). Each keypoint is a one-hot target on the 56×56 grid, trained with a
cross-entropy over the M² positions (a spatial softmax); only labelled keypoints
(COCO visibility 1 or 2) inside their RoI count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign

from seesall.nn.roi_convs import init_relu_convs, roi_conv_tower


class KeypointHead(nn.Module):
    """Args:
        featmap_names: FPN levels to pool from; in_channels: their channels.
        num_keypoints: K.
        channels: conv width; num_convs: number of 3×3 convs.
        resolution: pooled size (14); heatmaps are 4× that (56).
    """

    def __init__(self, *, featmap_names: list[str], in_channels: int, num_keypoints: int,
                 channels: int = 128, num_convs: int = 4, resolution: int = 14) -> None:
        super().__init__()
        self.pooler = MultiScaleRoIAlign(featmap_names, resolution, 2)
        self.convs = roi_conv_tower(in_channels, channels, num_convs)
        self.deconv = nn.ConvTranspose2d(channels, num_keypoints, 4, stride=2, padding=1)
        self.num_keypoints, self.heatmap_size = num_keypoints, 4 * resolution
        init_relu_convs(self)

    def forward(self, features: dict[str, Tensor], rois: list[Tensor],
                image_shape: tuple[int, int]) -> Tensor:
        """rois: per image Tensor[R_i, 4] -> heatmap logits Tensor[R, K, 56, 56]."""
        r = sum(len(b) for b in rois)
        if r == 0:
            ref = next(iter(features.values()))
            return ref.new_zeros(0, self.num_keypoints, self.heatmap_size, self.heatmap_size)
        x = self.pooler(features, rois, [image_shape] * len(rois))  # (R, C, 14, 14)
        x = self.deconv(self.convs(x))  # (R, K, 28, 28)
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def keypoint_targets(keypoints: Tensor, visibility: Tensor, rois: Tensor, size: int
                     ) -> tuple[Tensor, Tensor]:
    """Heatmap targets of keypoints in their RoIs.

    Args:
        keypoints: Tensor[R, K, 2] (x, y) pixels; visibility: Tensor[R, K] COCO flags.
        rois: Tensor[R, 4] XYXY; size: heatmap side M.
    Returns:
        (Tensor[R, K] int64 flat index y·M + x of the target cell, Tensor[R, K] bool valid):
        cell x = ⌊(x − x1) · M / (x2 − x1)⌋; a keypoint is valid when labelled (v > 0) and
        inside its RoI.
    """
    x1, y1 = rois[:, 0:1], rois[:, 1:2]
    sx = size / (rois[:, 2:3] - rois[:, 0:1]).clamp(min=1e-6)
    sy = size / (rois[:, 3:4] - rois[:, 1:2]).clamp(min=1e-6)
    fx = (keypoints[..., 0] - x1) * sx
    fy = (keypoints[..., 1] - y1) * sy
    valid = (visibility > 0) & (fx >= 0) & (fy >= 0) & (fx < size) & (fy < size)
    ix, iy = fx.floor().long().clamp(0, size - 1), fy.floor().long().clamp(0, size - 1)
    return iy * size + ix, valid


def keypoint_loss(logits: Tensor, keypoints: Tensor, visibility: Tensor, rois: Tensor
                  ) -> Tensor:
    """Cross-entropy over the M² heatmap cells, mean over valid keypoints (0 if none).

    logits: Tensor[R, K, M, M]; keypoints/visibility/rois as in ``keypoint_targets``."""
    r, k, m, _ = logits.shape
    if r == 0:
        return logits.sum() * 0.0
    target, valid = keypoint_targets(keypoints, visibility, rois, m)
    if not valid.any():
        return logits.sum() * 0.0
    flat = logits.reshape(r * k, m * m)  # (RK, M²)
    return F.cross_entropy(flat[valid.flatten()], target.flatten()[valid.flatten()])


def decode_heatmaps(logits: Tensor, rois: Tensor) -> tuple[Tensor, Tensor]:
    """Keypoints from heatmaps: the arg-max cell's centre mapped back into the RoI.

    logits: Tensor[R, K, M, M]; rois: Tensor[R, 4]. Returns (Tensor[R, K, 2] (x, y) pixels,
    Tensor[R, K] the max logit as a keypoint score)."""
    r, k, m, _ = logits.shape
    score, idx = logits.reshape(r, k, m * m).max(dim=2)  # (R, K)
    ix, iy = (idx % m).float(), torch.div(idx, m, rounding_mode="floor").float()
    w = (rois[:, 2] - rois[:, 0]).unsqueeze(1)
    h = (rois[:, 3] - rois[:, 1]).unsqueeze(1)
    x = rois[:, 0:1] + (ix + 0.5) * w / m
    y = rois[:, 1:2] + (iy + 0.5) * h / m
    return torch.stack([x, y], dim=2), score
