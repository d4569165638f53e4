"""3D conv stacks (C3D / R3D-style) and the temporal-difference stem."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

Triple = tuple[int, int, int]


def as_triple(v: int | Sequence[int]) -> Triple:
    if isinstance(v, int):
        return (v, v, v)
    t = tuple(int(x) for x in v)
    if len(t) != 3:
        raise ValueError(f"expected an int or 3 ints (t, h, w), got {v!r}")
    return t  # type: ignore[return-value]


def check_video(x: Tensor, channels: int, name: str = "video") -> None:
    if x.ndim != 5 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape [B, {channels}, T, H, W], got {list(x.shape)}")


class Conv3dBNAct(nn.Sequential):
    """Conv3d + BatchNorm3d + ReLU; 'same' padding by default (per axis: dilation * (k - 1) / 2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | Sequence[int] = 3,
        stride: int | Sequence[int] = 1,
        dilation: int | Sequence[int] = 1,
        padding: int | Sequence[int] | None = None,
    ) -> None:
        k, d = as_triple(kernel_size), as_triple(dilation)
        same = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
        pad = as_triple(padding) if padding is not None else same
        super().__init__(
            nn.Conv3d(in_channels, out_channels, k, stride=as_triple(stride), padding=pad,
                      dilation=d, bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class DifferenceConv3d(nn.Conv3d):
    """Conv3d with a zero-sum time kernel: ``w - mean_t(w)`` is used in ``forward``.

    The clip is padded in time by replicating its border frames (a static border),
    so the output is exactly zero wherever the input does not change. Time padding
    is ``padding_t`` frames on each side (or ``causal=True``: (k_t - 1) * dilation_t
    frames on the left only); space is zero-padded by the ``padding`` given.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: Triple,
                 stride: Triple = (1, 1, 1), padding_hw: tuple[int, int] = (0, 0),
                 dilation: Triple = (1, 1, 1), causal: bool = False, bias: bool = False) -> None:
        if kernel_size[0] < 2:
            raise ValueError(f"DifferenceConv3d needs a time kernel >= 2, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=(0, *padding_hw), dilation=dilation, bias=bias)
        span = (kernel_size[0] - 1) * dilation[0]
        self.time_pad = (span, 0) if causal else (span // 2, span - span // 2)

    def centred_weight(self) -> Tensor:
        """The kernel actually applied: Tensor[O, I, kt, kh, kw] summing to zero over kt."""
        return self.weight - self.weight.mean(dim=2, keepdim=True)

    def forward(self, x: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] -> Tensor[B, C', T', H', W'] (T' = T / stride_t)."""
        x = F.pad(x, (0, 0, 0, 0, *self.time_pad), mode="replicate")
        return F.conv3d(x, self.centred_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


def motion_stem(in_channels: int, out_channels: int, *, kernel_size: Triple = (3, 5, 5),
                stride: Triple = (1, 2, 2)) -> nn.Sequential:
    """DifferenceConv3d ('same' in time and space) + BatchNorm3d + ReLU."""
    conv = DifferenceConv3d(in_channels, out_channels, kernel_size=kernel_size, stride=stride,
                            padding_hw=(kernel_size[1] // 2, kernel_size[2] // 2))
    return nn.Sequential(conv, nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True))


class ResBlock3d(nn.Module):
    """R3D basic block: two 3x3x3 convs and a (strided 1x1x1 when needed) shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int | Sequence[int] = 1,
        dilation_t: int = 1,
        kernel_t: int = 3,
    ) -> None:
        super().__init__()
        s = as_triple(stride)
        self.conv1 = Conv3dBNAct(in_channels, out_channels, kernel_size=(kernel_t, 3, 3), stride=s,
                                 dilation=(dilation_t, 1, 1))
        self.conv2 = nn.Sequential(
            nn.Conv3d(out_channels, out_channels, (kernel_t, 3, 3),
                      padding=(dilation_t * (kernel_t - 1) // 2, 1, 1),
                      dilation=(dilation_t, 1, 1), bias=False),
            nn.BatchNorm3d(out_channels),
        )
        self.shortcut: nn.Module = nn.Identity()
        if s != (1, 1, 1) or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=s, bias=False),
                nn.BatchNorm3d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class VideoResNet(nn.Module):
    """A 3D CNN classifier: stem, stages of blocks, global (T, H, W) average pool, linear head.

    Args:
        stem: maps Tensor[B, in_channels, T, H, W] to features.
        stages: applied in order.
        out_channels: channels after the last stage.
        num_classes: size of the head.
    """

    def __init__(
        self, *, stem: nn.Module, stages: Sequence[nn.Module], in_channels: int,
        out_channels: int, num_classes: int,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.stem = stem
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(out_channels, num_classes)

    def features(self, video: Tensor) -> Tensor:
        """Tensor[B, C_in, T, H, W] -> Tensor[B, C_out, T', H', W']."""
        check_video(video, self.in_channels)
        return self.stages(self.stem(video))

    def forward(self, video: Tensor) -> Tensor:
        """Tensor[B, C_in, T, H, W] -> logits Tensor[B, num_classes]."""
        return self.head(self.features(video).mean(dim=(2, 3, 4)))


def _stem(in_channels: int, width: int, motion: bool) -> nn.Module:
    if motion:
        return motion_stem(in_channels, width)
    return Conv3dBNAct(in_channels, width, kernel_size=(3, 5, 5), stride=(1, 2, 2))


def c3d_tiny(*, num_classes: int, in_channels: int = 3, width: int = 16,
             motion: bool = False) -> VideoResNet:
    """A C3D-style plain stack of 3x3x3 convs (time kept until the pool, space strided);
    ``motion=True`` makes the stem a temporal-difference conv (``motion_stem``)."""
    w = width
    stages = [
        Conv3dBNAct(w, 2 * w, stride=(1, 2, 2)),
        Conv3dBNAct(2 * w, 4 * w, stride=(2, 2, 2)),
        Conv3dBNAct(4 * w, 4 * w, dilation=(2, 1, 1)),
    ]
    return VideoResNet(stem=_stem(in_channels, w, motion), stages=stages, in_channels=in_channels,
                       out_channels=4 * w, num_classes=num_classes)


def r3d_tiny(*, num_classes: int, in_channels: int = 3, width: int = 16,
             motion: bool = False) -> VideoResNet:
    """An R3D-style residual 3D CNN: stem, then 3 stages (the last dilated in time);
    ``motion=True`` makes the stem a temporal-difference conv (``motion_stem``)."""
    w = width
    stem = _stem(in_channels, w, motion)
    stages = [
        ResBlock3d(w, w),
        ResBlock3d(w, 2 * w, stride=(1, 2, 2)),
        ResBlock3d(2 * w, 4 * w, stride=(2, 2, 2), dilation_t=2),
    ]
    return VideoResNet(stem=stem, stages=stages, in_channels=in_channels, out_channels=4 * w,
                       num_classes=num_classes)


# --------------------------------------------------------------------------- causal / streaming


