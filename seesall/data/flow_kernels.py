"""transforms.v2 kernels for ``Flow``: geometric transforms also change the vectors.

Both frames of a pair go through the same spatial map A, so the flow at A(p)
becomes A(p + f(p)) - A(p) = L f(p) for the linear part L of A: a horizontal
flip negates u, a resize by (sx, sy) scales (u, v) by (sx, sy), a crop or pad
leaves the vectors alone, an affine map or rotation multiplies them by L.
The field itself is resampled with nearest-neighbour interpolation so that
vectors of different surfaces are never averaged across a motion boundary
(resize is the exception: bilinear, as FlowNet's data pipeline does).

Importing this module registers the kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from seesall.structures.flow import Flow


def _plain(flow: Flow) -> Tensor:
    return flow.as_subclass(Tensor)


def _scale(flow: Tensor, sx: float, sy: float) -> Tensor:
    return flow * torch.tensor([sx, sy], dtype=flow.dtype, device=flow.device).view(2, 1, 1)


@F.register_kernel(F.horizontal_flip, Flow)
def _hflip(flow: Flow) -> Flow:
    return Flow(_scale(F.horizontal_flip_image(_plain(flow)), -1.0, 1.0))


@F.register_kernel(F.vertical_flip, Flow)
def _vflip(flow: Flow) -> Flow:
    return Flow(_scale(F.vertical_flip_image(_plain(flow)), 1.0, -1.0))


@F.register_kernel(F.resize, Flow)
def _resize(flow: Flow, size: list[int] | None, max_size: int | None = None, **_: object) -> Flow:
    h, w = flow.shape[-2:]
    out = F.resize_image(_plain(flow), size=size, max_size=max_size,
                         interpolation=InterpolationMode.BILINEAR, antialias=False)
    nh, nw = out.shape[-2:]
    return Flow(_scale(out, nw / w, nh / h))


@F.register_kernel(F.crop, Flow)
def _crop(flow: Flow, top: int, left: int, height: int, width: int) -> Flow:
    return Flow(F.crop_image(_plain(flow), top=top, left=left, height=height, width=width))


@F.register_kernel(F.center_crop, Flow)
def _center_crop(flow: Flow, output_size: list[int]) -> Flow:
    return Flow(F.center_crop_image(_plain(flow), output_size=output_size))


@F.register_kernel(F.resized_crop, Flow)
def _resized_crop(flow: Flow, top: int, left: int, height: int, width: int,
                  size: list[int], **_: object) -> Flow:
    return _resize(_crop(flow, top, left, height, width), size=size)


@F.register_kernel(F.pad, Flow)
def _pad(flow: Flow, padding: list[int], padding_mode: str = "constant", **_: object) -> Flow:
    if padding_mode != "constant":
        raise ValueError(f"flow can only be zero-padded, got padding_mode={padding_mode!r}")
    return Flow(F.pad_image(_plain(flow), padding=padding, fill=0.0))


def _linear_part(functional: object, canvas_size: tuple[int, int], **kwargs: object) -> Tensor:
    """Tensor[2, 2]: the linear part of the map that ``functional`` applies to points.

    Found by sending three probe key points through torchvision's own key-point kernel,
    so it follows torchvision's angle and shear conventions exactly.
    """
    h, w = canvas_size
    cx, cy = w / 2.0, h / 2.0
    probe = tv_tensors.KeyPoints(
        torch.tensor([[cx, cy], [cx + 1.0, cy], [cx, cy + 1.0]], dtype=torch.float64),
        canvas_size=canvas_size,
    )
    moved = functional(probe, **kwargs).as_subclass(Tensor)  # (3, 2)
    return torch.stack([moved[1] - moved[0], moved[2] - moved[0]], dim=1)  # columns: images of ex, ey


def _apply_linear(flow: Tensor, lin: Tensor) -> Tensor:
    out = torch.einsum("ij,jhw->ihw", lin.to(flow.dtype), flow)  # (2, H, W)
    return out


@F.register_kernel(F.affine, Flow)
def _affine(flow: Flow, angle: float, translate: list[float], scale: float, shear: list[float],
            center: list[float] | None = None, **_: object) -> Flow:
    args = dict(angle=angle, translate=translate, scale=scale, shear=shear, center=center)
    lin = _linear_part(F.affine, tuple(flow.shape[-2:]), **args)
    warped = F.affine_image(_plain(flow), interpolation=InterpolationMode.NEAREST, fill=0.0, **args)
    return Flow(_apply_linear(warped, lin))


@F.register_kernel(F.rotate, Flow)
def _rotate(flow: Flow, angle: float, expand: bool = False, center: list[float] | None = None,
            **_: object) -> Flow:
    lin = _linear_part(F.rotate, tuple(flow.shape[-2:]), angle=angle, expand=expand, center=center)
    warped = F.rotate_image(_plain(flow), angle=angle, expand=expand, center=center,
                            interpolation=InterpolationMode.NEAREST, fill=0.0)
    return Flow(_apply_linear(warped, lin))


def _unsupported(name: str):
    def kernel(flow: Flow, *args: object, **kwargs: object) -> Flow:
        raise TypeError(f"{name} is not supported for optical flow: the flow of a non-affine "
                        "warp is not a resampled copy of the field")
    return kernel


F.register_kernel(F.perspective, Flow)(_unsupported("perspective"))
F.register_kernel(F.elastic, Flow)(_unsupported("elastic"))
