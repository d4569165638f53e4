"""Optical flow in the Middlebury colour coding (hue = direction, saturation = magnitude)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.utils import flow_to_image


def flow_to_color(flow: Tensor, *, max_flow: float | None = None, valid: Tensor | None = None) -> Tensor:
    """Tensor[2, H, W] float (u, v) -> Tensor[3, H, W] uint8 in the Middlebury colour wheel.

    Args:
        flow: displacement in pixels.
        max_flow: the magnitude drawn fully saturated; by default the largest magnitude
            in the field (torchvision's ``flow_to_image`` normalisation). A fixed value
            makes pictures of different fields comparable.
        valid: Tensor[H, W] bool; invalid pixels are drawn black.
    """
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"flow must have shape [2, H, W], got {list(flow.shape)}")
    f = flow.as_subclass(Tensor).float()
    if valid is not None:
        f = f * valid.as_subclass(Tensor)
    if max_flow is not None:
        # flow_to_image divides by the largest radius: add a far-away pixel of radius
        # max_flow, clamp larger vectors to it, and drop the pixel afterwards.
        radius = torch.linalg.vector_norm(f, dim=0, keepdim=True).clamp_min(1e-12)
        f = f * (radius.clamp(max=max_flow) / radius)
        padded = torch.cat([f, torch.tensor([max_flow, 0.0]).view(2, 1, 1).expand(2, f.shape[1], 1)], dim=2)
        img = flow_to_image(padded)[:, :, :-1]
    else:
        img = flow_to_image(f)
    if valid is not None:
        img = img * valid.as_subclass(Tensor).to(img.dtype)
    return img
