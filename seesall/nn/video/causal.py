"""Causal 3D convolutions and a causal video network that also runs one frame at a time."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.video.blocks import as_triple, check_video


class CausalConv3d(nn.Module):
    """Conv3d whose output at frame t depends only on input frames <= t.

    Time is left-padded with ``(k_t - 1) * dilation_t`` zeros (no stride in time);
    space is zero-padded to 'same' and may be strided. With ``static_start=True``
    the left pad repeats the first frame instead, as if the stream had shown it
    forever: a layer's input then changes only where the content does, from the
    first frame on (see ``seesall.tasks.video.delta``). With ``difference=True``
    the kernel sums to zero over time (as ``DifferenceConv3d``) and the start is
    static, so a static stream gives exactly zero.
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
        static_start: bool = False,
    ) -> None:
        super().__init__()
        kt, kh, kw = as_triple(kernel_size)
        if difference and kt < 2:
            raise ValueError(f"a difference CausalConv3d needs a time kernel >= 2, got {kt}")
        self.in_channels = in_channels
        self.difference = difference
        self.static_start = static_start or difference
        self.time_pad = (kt - 1) * dilation_t
        self.conv = nn.Conv3d(in_channels, out_channels, (kt, kh, kw),
                              stride=(1, stride_hw, stride_hw), padding=(0, kh // 2, kw // 2),
                              dilation=(dilation_t, 1, 1), bias=bias)

    def _conv(self, x: Tensor) -> Tensor:
        c = self.conv
        return F.conv3d(x, self.time_weights(), c.bias, c.stride, c.padding, c.dilation, c.groups)

    def forward(self, x: Tensor) -> Tensor:
        """Tensor[B, C, T, H, W] -> Tensor[B, C', T, H', W']."""
        check_video(x, self.in_channels, "CausalConv3d input")
        if self.static_start:
            return self._conv(F.pad(x, (0, 0, 0, 0, self.time_pad, 0), mode="replicate"))
        return self._conv(F.pad(x, (0, 0, 0, 0, self.time_pad, 0)))

    def time_weights(self) -> Tensor:
        """The kernel as applied, Tensor[C', C, k_t, k_h, k_w] (a difference conv's is centred
        over time); index j of dim 2 weighs frame t - (k_t - 1 - j) * dilation_t."""
        w = self.conv.weight
        return w - w.mean(dim=2, keepdim=True) if self.difference else w

    def init_cache(self, frame: Tensor) -> Tensor:
        """The frames before the first, Tensor[B, C, time_pad, H, W]: zeros, or copies of
        ``frame`` (the stream's first frame) for a static start."""
        b, c, h, w = frame.shape
        if self.static_start:
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
        return self.activate(y), cache

    def activate(self, pre: Tensor) -> Tensor:
        """BatchNorm + ReLU of one frame's conv output Tensor[B, C, H, W] (BN over a 1-frame clip)."""
        return F.relu(self.bn(pre[:, :, None]))[:, :, 0]


def velocities(video: Tensor, gaps: Tensor) -> Tensor:
    """Frame differences per unit of time: Tensor[B, C, T, H, W] and the time since each frame's
    predecessor Tensor[B, T] (> 0; the first column is unused) -> Tensor[B, C, T, H, W], zero at
    the first frame, (x_t - x_{t-1}) / gap_t after it."""
    b, _, t = video.shape[:3]
    if gaps.shape != (b, t) or bool((gaps[:, 1:] <= 0).any()):
        raise ValueError(f"gaps must be [B, T] = {[b, t]} with positive times, got {gaps.tolist()}")
    rate = video.diff(dim=2) / gaps[:, None, 1:, None, None].to(video.dtype)
    return torch.cat([torch.zeros_like(video[:, :, :1]), rate], dim=2)


class CausalVideoNet(nn.Module):
    """Causal 3D CNN giving one prediction per frame, offline or streaming.

    ``forward(video)`` -> per-frame logits Tensor[B, T, K] where row t depends
    on frames <= t only. ``step(frame, state)`` gives row t from frame t and a
    state (the per-layer caches), so a stream needs no clip buffer. Call
    ``eval()`` first: in training mode BatchNorm mixes statistics over time.

    With ``velocity=True`` the first block sees ``velocities``: each frame's difference from the
    previous one divided by the time between them (``gaps``, in frames of the rate the net is
    trained at; 1 when not given). A stream that skips frames then still shows the net motions
    at the speed it learned, as the time since the last processed frame is known.
    """

    def __init__(
        self, *, blocks: Sequence[CausalBlock], out_channels: int, num_classes: int,
        velocity: bool = False,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.in_channels = blocks[0].conv.in_channels
        self.head = nn.Linear(out_channels, num_classes)
        self.velocity = velocity

    def forward(self, video: Tensor, gaps: Tensor | None = None) -> Tensor:
        """Tensor[B, C, T, H, W] (and Tensor[B, T] gaps for a velocity net) -> per-frame logits
        Tensor[B, T, K]."""
        check_video(video, self.in_channels)
        if gaps is not None and not self.velocity:
            raise ValueError("gaps are for a velocity net (causal_tiny(velocity=True))")
        x = video
        if self.velocity:
            x = velocities(x, gaps if gaps is not None else x.new_ones(x.shape[0], x.shape[2]))
        for block in self.blocks:
            x = block(x)
        pooled = x.mean(dim=(3, 4)).transpose(1, 2)  # (B, T, C)
        return self.head(pooled)

    def check_frame(self, frame: Tensor) -> None:
        """Raise a ValueError naming the shape unless ``frame`` is Tensor[B, in_channels, H, W]."""
        if frame.ndim != 4 or frame.shape[1] != self.in_channels:
            raise ValueError(f"frame must have shape [B, {self.in_channels}, H, W], got {list(frame.shape)}")

    def init_state(self, frame: Tensor) -> list[Tensor | None]:
        """An empty stream for frames like ``frame`` (Tensor[B, C, H, W]); caches fill lazily
        (a velocity net also keeps the last frame, first in the list)."""
        return [None] * (len(self.blocks) + int(self.velocity))

    def step(self, frame: Tensor, state: list[Tensor | None], gap: float = 1.0
             ) -> tuple[Tensor, list[Tensor | None]]:
        """Frame Tensor[B, C, H, W] + state (+ the time since the last frame) -> (logits
        Tensor[B, K], new state)."""
        self.check_frame(frame)
        x, new_state = frame, []
        if self.velocity:
            if gap <= 0:
                raise ValueError(f"gap must be > 0, got {gap}")
            last, state = state[0], state[1:]
            x = torch.zeros_like(frame) if last is None else (frame - last) / gap
            new_state.append(frame)
        for block, cache in zip(self.blocks, state, strict=True):
            if cache is None:
                cache = block.conv.init_cache(x)
            x, cache = block.step(x, cache)
            new_state.append(cache)
        return self.head(x.mean(dim=(2, 3))), new_state


def causal_tiny(*, num_classes: int, in_channels: int = 3, width: int = 16,
                motion: bool = False, velocity: bool = False, static_start: bool = False
                ) -> CausalVideoNet:
    """Four causal blocks, time dilation 1, 1, 2, 4 (receptive field 1 + 2 * 8 = 17 frames);
    ``motion=True`` makes the first conv a (causal) temporal-difference conv; ``velocity=True``
    feeds the first conv the frames' differences per unit of time instead (see
    ``CausalVideoNet``); ``static_start=True`` pads every conv's time with its first frame
    (``CausalConv3d``)."""
    if motion and velocity:
        raise ValueError("causal_tiny takes motion or velocity, not both")
    w = width
    s = static_start
    blocks = [
        CausalBlock(CausalConv3d(in_channels, w, kernel_size=(3, 5, 5), stride_hw=2,
                                 bias=not motion, difference=motion, static_start=s), w),
        CausalBlock(CausalConv3d(w, 2 * w, kernel_size=3, stride_hw=2, static_start=s), 2 * w),
        CausalBlock(CausalConv3d(2 * w, 2 * w, kernel_size=3, dilation_t=2, stride_hw=2, static_start=s), 2 * w),
        CausalBlock(CausalConv3d(2 * w, 4 * w, kernel_size=3, dilation_t=4, static_start=s), 4 * w),
    ]
    return CausalVideoNet(blocks=blocks, out_channels=4 * w, num_classes=num_classes, velocity=velocity)


# --------------------------------------------------------------------------- SlowFast


