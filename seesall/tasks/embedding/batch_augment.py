"""SimCLR views for a whole batch at once: every op drawn per image, applied with tensor ops.

Same :class:`~seesall.tasks.embedding.augment.AugmentConfig` and the same
distributions as the per-image ``transforms.v2`` pipeline, in a fixed order:
geometry (crop + resize, flip, rotation as one affine warp), colour jitter
(brightness, contrast, saturation, hue), grayscale, blur, Sobel, noise, cutout.
The photometric kernels follow ``torchvision.transforms.v2.functional``
(``adjust_brightness/contrast/saturation``, ``rgb_to_grayscale``,
``gaussian_blur``) and are tested against them; hue is a rotation of the
chroma plane in YIQ space (a linear stand-in for torchvision's HSV hue shift).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.tasks.embedding.augment import AugmentConfig, blur_kernel

_GREY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights


def grayscale(x: Tensor) -> Tensor:
    """Tensor[B, 3, H, W] in [0, 1] -> grey Tensor[B, 1, H, W] (torchvision's weights)."""
    w = torch.tensor(_GREY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def _per_sample(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1, 1)


def adjust_brightness(x: Tensor, f: Tensor) -> Tensor:
    return (x * _per_sample(f)).clamp(0, 1)


def adjust_contrast(x: Tensor, f: Tensor) -> Tensor:
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return (_per_sample(f) * x + (1 - _per_sample(f)) * mean).clamp(0, 1)


def adjust_saturation(x: Tensor, f: Tensor) -> Tensor:
    return (_per_sample(f) * x + (1 - _per_sample(f)) * grayscale(x)).clamp(0, 1)


def rotate_hue(x: Tensor, h: Tensor) -> Tensor:
    """Rotate the chroma of RGB images by ``2π·h`` radians in YIQ space; h: Tensor[B]."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                           [0.211, -0.523, 0.312]], dtype=x.dtype, device=x.device)
    a = 2 * math.pi * h
    rot = torch.zeros(len(h), 3, 3, dtype=x.dtype, device=x.device)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = a.cos(), -a.sin(), a.sin(), a.cos()
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (B, 3, 3)
    return torch.einsum("bij,bjhw->bihw", m, x).clamp(0, 1)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel: int) -> Tensor:
    """Separable Gaussian blur with a per-image sigma (Tensor[B]), reflect padding."""
    b, c, h, w = x.shape
    r = kernel // 2
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t[None, :] / sigma[:, None]) ** 2)
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, K)
    y = F.pad(x.reshape(1, b * c, h, w), (r, r, r, r), mode="reflect")  # (1, BC, H+2r, W+2r)
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


def sobel_magnitude(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of the grey image / 4√2, on every channel: [B, C, H, W]."""
    grey = x.mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=x.dtype, device=x.device)
    g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), torch.stack([kx, kx.t()])[:, None])
    mag = g.pow(2).sum(dim=1, keepdim=True).sqrt() / (4 * 2**0.5)
    return mag.clamp(0, 1).expand_as(x)


class BatchAugment:
    """Draw one view of every image: uint8 or float Tensor[B, C, H, W] -> float [B, C, s, s]."""

    def __init__(self, cfg: AugmentConfig, *, generator: torch.Generator | None = None) -> None:
        self.cfg, self.g = cfg, generator

    def _u(self, n: int, lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.g)

    def _coin(self, n: int, p: float) -> Tensor:
        return torch.rand(n, generator=self.g) < p

    def geometry(self, x: Tensor) -> Tensor:
        """Random resized crop (scale, ratio 3/4..4/3), flip and rotation as one affine warp."""
        b, cfg = len(x), self.cfg
        if cfg.crop_scale is not None:
            area = self._u(b, *cfg.crop_scale)
            ratio = torch.exp(self._u(b, math.log(3 / 4), math.log(4 / 3)))
            sw, sh = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
        else:
            sw = sh = torch.ones(b)
        cx, cy = self._u(b, -1, 1) * (1 - sw), self._u(b, -1, 1) * (1 - sh)
        flip = torch.where(self._coin(b, 0.5 if cfg.flip else 0.0), -1.0, 1.0)
        a = torch.deg2rad(self._u(b, -cfg.rotation, cfg.rotation))
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1] = a.cos() * sw * flip, -a.sin() * sh
        theta[:, 1, 0], theta[:, 1, 1] = a.sin() * sw * flip, a.cos() * sh
        theta[:, 0, 2], theta[:, 1, 2] = cx, cy
        grid = F.affine_grid(theta.to(x), [b, x.shape[1], cfg.size, cfg.size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def colour(self, x: Tensor) -> Tensor:
        b, cfg = len(x), self.cfg
        if cfg.jitter > 0 and cfg.jitter_p > 0:
            on = _per_sample(self._coin(b, cfg.jitter_p))
            s = 0.8 * cfg.jitter
            y = adjust_brightness(x, self._u(b, max(0, 1 - s), 1 + s))
            y = adjust_contrast(y, self._u(b, max(0, 1 - s), 1 + s))
            if x.shape[1] == 3:
                y = adjust_saturation(y, self._u(b, max(0, 1 - s), 1 + s))
                y = rotate_hue(y, self._u(b, -0.2 * cfg.jitter, 0.2 * cfg.jitter))
            x = torch.where(on, y, x)
        if cfg.grayscale_p > 0:
            x = torch.where(_per_sample(self._coin(b, cfg.grayscale_p)),
                            grayscale(x).expand_as(x), x)
        return x

    def degrade(self, x: Tensor) -> Tensor:
        b, cfg = len(x), self.cfg
        if cfg.blur_p > 0:
            x = torch.where(_per_sample(self._coin(b, cfg.blur_p)),
                            gaussian_blur(x, self._u(b, 0.1, cfg.blur_sigma), blur_kernel(cfg)), x)
        if cfg.sobel_p > 0:
            x = torch.where(_per_sample(self._coin(b, cfg.sobel_p)), sobel_magnitude(x), x)
        if cfg.noise_std > 0:
            x = (x + cfg.noise_std * torch.randn(x.shape, generator=self.g)).clamp(0, 1)
        if cfg.cutout_p > 0:
            x = x * ~self._cutout_mask(b, x.shape[-1])
        return x

    def _cutout_mask(self, b: int, s: int) -> Tensor:
        """Per image a rectangle of 2–25 % of the area, aspect 0.3–3.3: Tensor[B, 1, s, s] bool."""
        area = self._u(b, 0.02, 0.25)
        ratio = torch.exp(self._u(b, math.log(0.3), math.log(3.3)))
        w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
        x0, y0 = self._u(b, 0, 1) * (1 - w), self._u(b, 0, 1) * (1 - h)
        pos = (torch.arange(s) + 0.5) / s
        inx = (pos[None] >= x0[:, None]) & (pos[None] < (x0 + w)[:, None])  # (B, s)
        iny = (pos[None] >= y0[:, None]) & (pos[None] < (y0 + h)[:, None])
        on = self._coin(b, self.cfg.cutout_p)[:, None, None]
        return (iny[:, :, None] & inx[:, None, :] & on)[:, None]

    def __call__(self, images: Tensor) -> Tensor:
        if images.ndim != 4:
            raise ValueError(f"images must be Tensor[B, C, H, W], got {tuple(images.shape)}")
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        return self.degrade(self.colour(self.geometry(x)))
