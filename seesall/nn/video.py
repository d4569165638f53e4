"""Video building blocks: 3D conv stacks, causal 3D convs with streaming, SlowFast, I3D inflation.

Every video network here takes ``Tensor[B, C, T, H, W]`` float (channels first,
then time, as ``nn.Conv3d`` wants) and returns raw logits.

* ``Conv3dBNAct`` / ``ResBlock3d`` / ``VideoResNet``: C3D / R3D-style stacks with
  stride, dilation and padding in time.
* ``CausalConv3d`` / ``CausalVideoNet``: the time axis is left-padded by
  ``(k_t - 1) * dilation_t`` zeros, so the output at frame t only sees frames
  <= t. ``step`` runs the same network one frame at a time, keeping for every
  layer a cache of its last ``(k_t - 1) * dilation_t`` input frames, and
  reproduces the offline outputs.
* ``SlowFast``: a slow pathway on every alpha-th frame with many channels and a
  fast pathway on all frames with beta x the channels, time-strided lateral
  convs fast -> slow, and a head on both pooled pathways.
* ``inflate_2d``: I3D inflation of a 2D CNN, each k x k kernel tiled T times
  along time and divided by T (time padding replicates the border frames), so
  a static clip gives the 2D network's output.
* ``DifferenceConv3d``: a learned temporal-difference stem (TSN's "RGB
  difference" input, learned as in TDN): a Conv3d whose kernel is re-centred to
  sum to zero along time, so it sees only what changes and a static clip gives
  exactly zero. ``motion=True`` puts it first in the 3D CNNs, the fast
  pathway and the causal network (``slow_motion=True``: the slow pathway too,
  without which SlowFast's RGB slow pathway fits the training clips' appearance).
  Without it, a small 3D CNN trained from
  scratch on textured clips where the actor covers a few % of the pixels spends
  hundreds of steps fitting the appearance of the training clips before motion
  shows in its loss.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Triple = tuple[int, int, int]


def _triple(v: int | Sequence[int]) -> Triple:
    if isinstance(v, int):
        return (v, v, v)
    t = tuple(int(x) for x in v)
    if len(t) != 3:
        raise ValueError(f"expected an int or 3 ints (t, h, w), got {v!r}")
    return t  # type: ignore[return-value]


def _check_video(x: Tensor, channels: int, name: str = "video") -> None:
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
        k, d = _triple(kernel_size), _triple(dilation)
        same = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
        pad = _triple(padding) if padding is not None else same
        super().__init__(
            nn.Conv3d(in_channels, out_channels, k, stride=_triple(stride), padding=pad,
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
        s = _triple(stride)
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
        _check_video(video, self.in_channels)
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


class CausalConv3d(nn.Module):
    """Conv3d whose output at frame t depends only on input frames <= t.

    Time is left-padded with ``(k_t - 1) * dilation_t`` zeros (no stride in time);
    space is zero-padded to 'same' and may be strided. With ``difference=True``
    the kernel sums to zero over time (as ``DifferenceConv3d``) and the left pad
    repeats the first frame, so a static stream gives exactly zero.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | Sequence[int] = 3,
        dilation_t: int = 1,
        stride_hw: int = 1,
        bias: bool = True,
        difference: bool = False,
    ) -> None:
        super().__init__()
        kt, kh, kw = _triple(kernel_size)
        if difference and kt < 2:
            raise ValueError(f"a difference CausalConv3d needs a time kernel >= 2, got {kt}")
        self.in_channels = in_channels
        self.difference = difference
        self.time_pad = (kt - 1) * dilation_t
        self.conv = nn.Conv3d(in_channels, out_channels, (kt, kh, kw),
                              stride=(1, stride_hw, stride_hw), padding=(0, kh // 2, kw // 2),
                              dilation=(dilation_t, 1, 1), bias=bias)

    def _conv(self, x: Tensor) -> Tensor:
        c = self.conv
        w = c.weight - c.weight.mean(dim=2, keepdim=True) if self.difference else c.weight
        return F.conv3d(x, w, c.bias, c.stride, c.padding, c.dilation, c.groups)

    def forward(self, x: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] -> Tensor[B, C', T, H', W']."""
        _check_video(x, self.in_channels, "CausalConv3d input")
        if self.difference:
            return self._conv(F.pad(x, (0, 0, 0, 0, self.time_pad, 0), mode="replicate"))
        return self._conv(F.pad(x, (0, 0, 0, 0, self.time_pad, 0)))

    def init_cache(self, frame: Tensor) -> Tensor:
        """The frames before the first, Tensor[B, C, time_pad, H, W]: zeros, or copies of
        ``frame`` (the stream's first frame) for a difference conv."""
        b, c, h, w = frame.shape
        if self.difference:
            return frame[:, :, None].expand(b, c, self.time_pad, h, w).contiguous()
        return frame.new_zeros(b, c, self.time_pad, h, w)

    def step(self, frame: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        """Frame Tensor[B, C, H, W] and cache -> (output Tensor[B, C', H', W'], new cache)."""
        window = torch.cat([cache, frame[:, :, None]], dim=2)  # (B, C, time_pad + 1, H, W)
        out = self._conv(window)  # (B, C', 1, H', W')
        return out[:, :, 0], window[:, :, 1:]


class CausalBlock(nn.Module):
    """CausalConv3d + BatchNorm3d + ReLU; ``step`` is valid in eval mode (BN uses running stats)."""

    def __init__(self, conv: CausalConv3d, out_channels: int) -> None:
        super().__init__()
        self.conv = conv
        self.bn = nn.BatchNorm3d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))

    def step(self, frame: Tensor, cache: Tensor) -> tuple[Tensor, Tensor]:
        y, cache = self.conv.step(frame, cache)
        return F.relu(self.bn(y[:, :, None]))[:, :, 0], cache  # BN over a 1-frame clip


class CausalVideoNet(nn.Module):
    """Causal 3D CNN giving one prediction per frame, offline or streaming.

    ``forward(video)`` -> per-frame logits Tensor[B, T, K] where row t depends
    on frames <= t only. ``step(frame, state)`` gives row t from frame t and a
    state (the per-layer caches), so a stream needs no clip buffer. Call
    ``eval()`` first: in training mode BatchNorm mixes statistics over time.
    """

    def __init__(
        self, *, blocks: Sequence[CausalBlock], out_channels: int, num_classes: int
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.in_channels = blocks[0].conv.in_channels
        self.head = nn.Linear(out_channels, num_classes)

    def forward(self, video: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] -> per-frame logits Tensor[B, T, K]."""
        _check_video(video, self.in_channels)
        x = video
        for block in self.blocks:
            x = block(x)
        pooled = x.mean(dim=(3, 4)).transpose(1, 2)  # (B, T, C)
        return self.head(pooled)

    def init_state(self, frame: Tensor) -> list[Tensor | None]:
        """An empty stream for frames like ``frame`` (Tensor[B, C, H, W]); caches fill lazily."""
        return [None] * len(self.blocks)

    def step(self, frame: Tensor, state: list[Tensor | None]) -> tuple[Tensor, list[Tensor | None]]:
        """Frame Tensor[B, C, H, W] + state -> (logits Tensor[B, K], new state)."""
        if frame.ndim != 4 or frame.shape[1] != self.in_channels:
            raise ValueError(
                f"frame must have shape [B, {self.in_channels}, H, W], got {list(frame.shape)}"
            )
        x, new_state = frame, []
        for block, cache in zip(self.blocks, state, strict=True):
            if cache is None:
                cache = block.conv.init_cache(x)
            x, cache = block.step(x, cache)
            new_state.append(cache)
        return self.head(x.mean(dim=(2, 3))), new_state


def causal_tiny(*, num_classes: int, in_channels: int = 3, width: int = 16,
                motion: bool = False) -> CausalVideoNet:
    """Four causal blocks, time dilation 1, 1, 2, 4 (receptive field 1 + 2 * 8 = 17 frames);
    ``motion=True`` makes the first conv a (causal) temporal-difference conv."""
    w = width
    blocks = [
        CausalBlock(CausalConv3d(in_channels, w, kernel_size=(3, 5, 5), stride_hw=2,
                                 bias=not motion, difference=motion), w),
        CausalBlock(CausalConv3d(w, 2 * w, kernel_size=3, stride_hw=2), 2 * w),
        CausalBlock(CausalConv3d(2 * w, 2 * w, kernel_size=3, dilation_t=2, stride_hw=2), 2 * w),
        CausalBlock(CausalConv3d(2 * w, 4 * w, kernel_size=3, dilation_t=4), 4 * w),
    ]
    return CausalVideoNet(blocks=blocks, out_channels=4 * w, num_classes=num_classes)


# --------------------------------------------------------------------------- SlowFast


class SlowFast(nn.Module):
    """SlowFast: two pathways fused by time-strided lateral convs, one head on both.

    Args:
        slow_stages / fast_stages: stages of equal count with equal spatial strides.
        laterals: one Conv3d per stage but the last, mapping fast features to slow
            time (kernel (5, 1, 1), stride (alpha, 1, 1)); its output is concatenated
            to the slow features.
        alpha: the slow pathway sees every alpha-th frame.
        head: Linear on [pooled slow, pooled fast].
    """

    def __init__(
        self, *, slow_stages: Sequence[nn.Module], fast_stages: Sequence[nn.Module],
        laterals: Sequence[nn.Module], alpha: int, head: nn.Linear, in_channels: int = 3,
    ) -> None:
        super().__init__()
        if len(slow_stages) != len(fast_stages) or len(laterals) != len(slow_stages) - 1:
            raise ValueError(f"need equal slow/fast stage counts and one lateral fewer, got "
                             f"{len(slow_stages)}, {len(fast_stages)}, {len(laterals)}")
        self.slow_stages = nn.ModuleList(slow_stages)
        self.fast_stages = nn.ModuleList(fast_stages)
        self.laterals = nn.ModuleList(laterals)
        self.alpha = alpha
        self.head = head
        self.in_channels = in_channels

    def forward(self, video: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] (T divisible by alpha) -> logits Tensor[B, K]."""
        _check_video(video, self.in_channels)
        if video.shape[2] % self.alpha:
            raise ValueError(
                f"SlowFast needs T divisible by alpha={self.alpha}, got T={video.shape[2]}"
            )
        slow, fast = video[:, :, :: self.alpha], video
        stages = zip(self.slow_stages, self.fast_stages, strict=True)
        for i, (s_stage, f_stage) in enumerate(stages):
            slow, fast = s_stage(slow), f_stage(fast)
            if i < len(self.laterals):
                # (B, C_slow + C_lateral, T / alpha, H, W)
                slow = torch.cat([slow, self.laterals[i](fast)], dim=1)
        pooled = torch.cat([slow.mean(dim=(2, 3, 4)), fast.mean(dim=(2, 3, 4))], dim=1)
        return self.head(pooled)


def slowfast_tiny(
    *, num_classes: int, in_channels: int = 3, width: int = 32, alpha: int = 4, beta: float = 0.25,
    motion: bool = False, slow_motion: bool = False,
) -> SlowFast:
    """Three stages; slow convs are 1 x 3 x 3 early (as SlowFast's res2-3), 3 x 3 x 3 late;
    ``motion=True`` makes the fast pathway's first conv a temporal-difference conv,
    ``slow_motion=True`` the slow pathway's too (over its alpha-strided frames)."""
    ws = [width, 2 * width, 4 * width]
    wf = [max(1, int(round(w * beta))) for w in ws]
    slow, fast, lat = [], [], []
    c_slow, c_fast = in_channels, in_channels
    for i, (cs, cf) in enumerate(zip(ws, wf, strict=True)):
        stride = (1, 2, 2)
        if slow_motion and i == 0:
            slow.append(motion_stem(c_slow, cs, kernel_size=(3, 3, 3), stride=stride))
        else:
            slow.append(Conv3dBNAct(c_slow, cs, kernel_size=(1 if i < 2 else 3, 3, 3),
                                    stride=stride))
        if motion and i == 0:
            fast.append(motion_stem(c_fast, cf, kernel_size=(3, 3, 3), stride=stride))
        else:
            fast.append(Conv3dBNAct(c_fast, cf, kernel_size=(3, 3, 3), stride=stride))
        c_slow, c_fast = cs, cf
        if i < len(ws) - 1:
            lat.append(nn.Conv3d(cf, 2 * cf, (5, 1, 1), stride=(alpha, 1, 1), padding=(2, 0, 0)))
            c_slow += 2 * cf
    head = nn.Linear(ws[-1] + wf[-1], num_classes)
    return SlowFast(slow_stages=slow, fast_stages=fast, laterals=lat, alpha=alpha, head=head,
                    in_channels=in_channels)


# --------------------------------------------------------------------------- I3D inflation


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
