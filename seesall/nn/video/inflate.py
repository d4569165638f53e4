"""I3D inflation: a 2D CNN's weights turned into a 3D CNN's."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InflatedConv3d(nn.Module):
    """A Conv3d whose time padding replicates the border frames (so a static clip stays static)."""

    def __init__(self, conv: nn.Conv3d, time_pad: int) -> None:
        super().__init__()
        self.conv = conv
        self.time_pad = time_pad

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pad:
            x = F.pad(x, (0, 0, 0, 0, self.time_pad, self.time_pad), mode="replicate")
        return self.conv(x)


def inflate_conv2d(conv: nn.Conv2d, time_kernel: int) -> InflatedConv3d:
    """Conv2d (k x k) -> Conv3d (time_kernel x k x k): weights tiled along time / time_kernel."""
    if time_kernel < 1 or time_kernel % 2 == 0:
        raise ValueError(f"time_kernel must be odd and >= 1, got {time_kernel}")
    if isinstance(conv.padding, str):
        raise ValueError(f"cannot inflate a Conv2d with padding={conv.padding!r}; use integers")
    out = nn.Conv3d(
        conv.in_channels, conv.out_channels, (time_kernel, *conv.kernel_size),
        stride=(1, *conv.stride), padding=(0, *conv.padding), dilation=(1, *conv.dilation),
        groups=conv.groups, bias=conv.bias is not None, padding_mode=conv.padding_mode,
    )
    with torch.no_grad():
        # (O, I, kt, kh, kw)
        w = conv.weight[:, :, None].repeat(1, 1, time_kernel, 1, 1) / time_kernel
        out.weight.copy_(w)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return InflatedConv3d(out, time_kernel // 2)


def _inflate_bn(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    out = nn.BatchNorm3d(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats)
    out.load_state_dict(bn.state_dict())
    return out


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _inflate_leaf(m: nn.Module, time_kernel: int) -> nn.Module | None:
    """The 3D twin of a 2D leaf module, or None when ``m`` works on 5-D input unchanged."""
    if isinstance(m, nn.Conv2d):
        return inflate_conv2d(m, time_kernel if max(m.kernel_size) > 1 else 1)
    if isinstance(m, nn.BatchNorm2d):
        return _inflate_bn(m)
    if isinstance(m, nn.MaxPool2d):
        k, s, p = (_pair(v) for v in (m.kernel_size, m.stride, m.padding))
        return nn.MaxPool3d((1, *k), (1, *s), (0, *p), ceil_mode=m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        k, s, p = (_pair(v) for v in (m.kernel_size, m.stride, m.padding))
        return nn.AvgPool3d((1, *k), (1, *s), (0, *p), ceil_mode=m.ceil_mode,
                            count_include_pad=m.count_include_pad)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        if m.output_size not in (1, (1, 1)):
            raise ValueError(f"can only inflate AdaptiveAvgPool2d(1), got {m.output_size}")
        return nn.AdaptiveAvgPool3d(1)
    if isinstance(m, (nn.ReLU, nn.Identity, nn.Flatten, nn.Linear, nn.Dropout, nn.GELU, nn.SiLU)):
        return None
    if len(list(m.children())) == 0:
        raise TypeError(f"inflate_2d does not know how to inflate {type(m).__name__}")
    return None


def inflate_2d(model: nn.Module, *, time_kernel: int = 3) -> nn.Module:
    """I3D inflation: a deep copy of a 2D CNN (Conv2d/BN/pools/Linear in nn.Sequential-like
    containers whose forward only chains children) turned 3D.

    The returned model maps Tensor[B, C, T, H, W] to what the 2D model maps Tensor[B, C, H, W]
    to, and on a static clip (the same frame T times) gives the 2D model's output.
    """
    model3d = copy.deepcopy(model)
    for parent in list(model3d.modules()):
        for cname, leaf in list(parent.named_children()):
            new = _inflate_leaf(leaf, time_kernel)
            if new is not None:
                setattr(parent, cname, new)
    return model3d
