"""SimCLR's view augmentations, each switchable from one frozen config.

The composition follows Chen et al. (2020), "A Simple Framework for Contrastive
Learning of Visual Representations", with the extra operations of their
ablation (rotation, cutout, Gaussian noise, Sobel filtering). Every op but
Sobel is a ``torchvision.transforms.v2`` transform; a view is drawn per image,
so two calls on the same image give two independent views.

:func:`build_view_transform` is that per-image v2 pipeline. Per-image Python
calls cost ~3 ms per small image on a CPU, which dominates SimCLR's large
batches, so :class:`BatchAugment` (in :mod:`.batch_augment`) draws the same
distribution of views for a whole batch with batched tensor ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms import v2


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations make a view, and how strong (0 or False switches one off).

    Attributes:
        size: output side in pixels (views are square).
        crop_scale: (min, max) area fraction of RandomResizedCrop; None = no crop, only resize.
        flip: random horizontal flip (p = 0.5).
        jitter: colour-jitter strength s (brightness/contrast/saturation 0.8 s, hue 0.2 s),
            applied with probability ``jitter_p``.
        grayscale_p: probability of colour drop (grayscale).
        rotation: maximal rotation in degrees (uniform in ±rotation).
        cutout_p: probability of erasing one random rectangle (2–25 % of the area).
        noise_std: std of additive Gaussian noise on [0, 1] pixels.
        blur_p: probability of a Gaussian blur (sigma uniform in [0.1, blur_sigma]).
        blur_sigma: largest blur sigma in pixels.
        blur_kernel: blur kernel side (odd); None = ~10 % of the side as in SimCLR, at least 3.
        sobel_p: probability of replacing the view by its Sobel gradient magnitude.
    """

    size: int = 32
    crop_scale: tuple[float, float] | None = (0.2, 1.0)
    flip: bool = True
    jitter: float = 0.5
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    rotation: float = 0.0
    cutout_p: float = 0.0
    noise_std: float = 0.0
    blur_p: float = 0.5
    blur_sigma: float = 2.0
    blur_kernel: int | None = None
    sobel_p: float = 0.0

    def __post_init__(self) -> None:
        if self.size < 4:
            raise ValueError(f"AugmentConfig.size must be >= 4, got {self.size}")
        if self.crop_scale is not None and not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"AugmentConfig.crop_scale must be 0 < min <= max <= 1, "
                             f"got {self.crop_scale}")
        if self.blur_kernel is not None and (self.blur_kernel < 3 or self.blur_kernel % 2 == 0):
            raise ValueError(f"AugmentConfig.blur_kernel must be odd and >= 3, got {self.blur_kernel}")
        for name in ("jitter_p", "grayscale_p", "cutout_p", "blur_p", "sobel_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be a probability, "
                                 f"got {getattr(self, name)}")


def blur_kernel(cfg: AugmentConfig) -> int:
    """The blur kernel side: ``cfg.blur_kernel`` or ~10 % of the view side (odd, >= 3)."""
    return cfg.blur_kernel or max(3, (cfg.size // 10) | 1)


def sobel(image: Tensor) -> Tensor:
    """Sobel gradient magnitude of the grey image, copied to every channel.

    image: Tensor[C, H, W] float in [0, 1] -> Tensor[C, H, W] in [0, 1].
    """
    grey = image.mean(dim=0, keepdim=True)[None]  # (1, 1, H, W)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype)
    kernels = torch.stack([kx, kx.t()])[:, None]  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernels)  # (1, 2, H, W)
    mag = g.pow(2).sum(dim=1).sqrt() / (4 * 2**0.5)  # max magnitude of a [0,1] image is 4√2
    return mag.clamp(0, 1).expand(image.shape[0], -1, -1).clone()


class RandomSobel(torch.nn.Module):
    """With probability p, replace a float image by its Sobel magnitude (:func:`sobel`)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, image: Tensor) -> Tensor:
        return sobel(image) if torch.rand(()) < self.p else image


def build_view_transform(cfg: AugmentConfig) -> Callable[[Tensor], Tensor]:
    """The transform that draws one view: uint8 Tensor[C, H, W] -> float Tensor[C, size, size]."""
    ops: list[torch.nn.Module] = [v2.ToDtype(torch.float32, scale=True)]
    if cfg.crop_scale is not None:
        ops.append(v2.RandomResizedCrop(cfg.size, scale=cfg.crop_scale, antialias=True))
    else:
        ops.append(v2.Resize((cfg.size, cfg.size), antialias=True))
    if cfg.flip:
        ops.append(v2.RandomHorizontalFlip())
    if cfg.rotation > 0:
        ops.append(v2.RandomRotation(cfg.rotation))
    if cfg.jitter > 0 and cfg.jitter_p > 0:
        s = cfg.jitter
        ops.append(v2.RandomApply([v2.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)],
                                  p=cfg.jitter_p))
    if cfg.grayscale_p > 0:
        ops.append(v2.RandomGrayscale(p=cfg.grayscale_p))
    if cfg.blur_p > 0:
        ops.append(v2.RandomApply([v2.GaussianBlur(blur_kernel(cfg), sigma=(0.1, cfg.blur_sigma))],
                                  p=cfg.blur_p))
    if cfg.sobel_p > 0:
        ops.append(RandomSobel(cfg.sobel_p))
    if cfg.noise_std > 0:
        ops.append(v2.GaussianNoise(sigma=cfg.noise_std))
    if cfg.cutout_p > 0:
        ops.append(v2.RandomErasing(p=cfg.cutout_p, scale=(0.02, 0.25), value=0.0))
    return v2.Compose(ops)


def eval_transform(size: int) -> Callable[[Tensor], Tensor]:
    """The deterministic transform for features: uint8 [C, H, W] -> float [C, size, size]."""
    return v2.Compose([v2.ToDtype(torch.float32, scale=True),
                       v2.Resize((size, size), antialias=True)])


def apply_batch(transform: Callable[[Tensor], Tensor], images: Tensor) -> Tensor:
    """Apply ``transform`` image by image (independent random draws): [B, C, H, W] -> [B, C, s, s]."""
    if images.ndim != 4:
        raise ValueError(f"images must be Tensor[B, C, H, W], got shape {tuple(images.shape)}")
    return torch.stack([transform(img) for img in images])
