"""Post-processing and inference: raw FlowNet outputs -> flow in pixels at input resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def normalize_images(images: Tensor) -> Tensor:
    """uint8 Tensor[B, 3, H, W] in [0, 255] -> float in [-0.5, 0.5] (FlowNet's input range)."""
    if images.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    return images.float() / 255.0 - 0.5


def resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of Tensor[B, 2, h, w] to ``size`` (H, W), scaling u by W/w and v by H/h."""
    h, w = flow.shape[-2:]
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = flow.new_tensor([size[1] / w, size[0] / h]).view(1, 2, 1, 1)
    return out * scale


def postprocess(flows: list[Tensor], *, div_flow: float, size: tuple[int, int]) -> Tensor:
    """Finest raw prediction (pixels / div_flow at 1/4 scale) -> Tensor[B, 2, H, W] in pixels.

    The raw values already count full-resolution pixels, so up-sampling keeps them.
    """
    return F.interpolate(flows[-1], size=size, mode="bilinear", align_corners=False) * div_flow


@torch.no_grad()
def predict_flow(model: nn.Module, image1: Tensor, image2: Tensor) -> Tensor:
    """Run a FlowNet on uint8 frames Tensor[B, 3, H, W] of any size -> Tensor[B, 2, H, W] pixels.

    Frames are replicate-padded at the bottom/right to the model's size multiple.
    """
    h, w = image1.shape[-2:]
    m = int(model.size_multiple)
    ph, pw = -h % m, -w % m
    a, b = normalize_images(image1), normalize_images(image2)
    if ph or pw:
        a = F.pad(a, (0, pw, 0, ph), mode="replicate")
        b = F.pad(b, (0, pw, 0, ph), mode="replicate")
    flow = postprocess(model(a, b), div_flow=model.div_flow, size=(h + ph, w + pw))
    return flow[..., :h, :w]
