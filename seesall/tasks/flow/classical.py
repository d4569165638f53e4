"""Classical CPU optical flow from OpenCV, wrapped to the project's types (for baselines)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _gray(image: Tensor | np.ndarray) -> np.ndarray:
    """uint8 Tensor[3, H, W] (RGB) or ndarray[H, W, 3] -> contiguous uint8 ndarray[H, W]."""
    if isinstance(image, Tensor):
        if image.ndim != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
            raise ValueError(f"image must be uint8 [3, H, W], got {image.dtype} {list(image.shape)}")
        image = image.permute(1, 2, 0).contiguous().numpy()  # (H, W, 3)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def farneback_flow(image1: Tensor, image2: Tensor) -> Tensor:
    """OpenCV Farnebäck (pyramid 0.5 x 5 levels, window 15, 3 iterations, poly n=5, sigma 1.2).

    uint8 Tensor[3, H, W] x 2 -> Tensor[2, H, W] float32 flow in pixels.
    """
    flow = cv2.calcOpticalFlowFarneback(_gray(image1), _gray(image2), None, 0.5, 5, 15, 3, 5,
                                        1.2, 0)
    return torch.from_numpy(flow).permute(2, 0, 1).contiguous()  # (2, H, W)


def dis_flow(image1: Tensor, image2: Tensor, *, preset: str = "medium") -> Tensor:
    """OpenCV DIS optical flow with a preset in ``DIS_PRESETS``.

    uint8 Tensor[3, H, W] x 2 -> Tensor[2, H, W] float32 flow in pixels.
    """
    if preset not in DIS_PRESETS:
        raise ValueError(f"preset must be one of {sorted(DIS_PRESETS)}, got {preset!r}")
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    flow = dis.calc(_gray(image1), _gray(image2), None)
    return torch.from_numpy(flow).permute(2, 0, 1).contiguous()  # (2, H, W)


CLASSICAL: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "farneback": farneback_flow,
    "dis_ultrafast": lambda a, b: dis_flow(a, b, preset="ultrafast"),
    "dis_fast": lambda a, b: dis_flow(a, b, preset="fast"),
    "dis_medium": lambda a, b: dis_flow(a, b, preset="medium"),
}
"""Baseline table: name -> fn(image1, image2) -> flow."""
