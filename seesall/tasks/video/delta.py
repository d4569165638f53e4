"""Temporal efficiency by cheapening frames: a causal network that propagates only what changed.

``DeltaStream`` runs a ``CausalVideoNet`` one frame at a time, as ``step`` does, but every causal
conv works on the change of its input since the value it last propagated (a delta network:
O'Connor & Welling, "Sigma Delta Quantized Networks", 2016; Habibian et al., "Skip-Convolutions
for Efficient Video Processing", CVPR 2021). A conv is linear, so its pre-activation at frame t
is the one at t - 1 plus the conv of the input's change; a change arriving at frame s reaches
the output through time tap k at frame s + k d, so its products with every tap are computed
once, on arrival, and kept until their frame. BatchNorm (eval) and ReLU are then applied to the
accumulated pre-activation as in ``step``.

``threshold`` is the knob: after the first frame (always propagated in full), an input
position whose change (mean absolute value over channels) is at most ``threshold`` propagates
nothing, and its change is kept and accumulates until it passes, so no position's input is ever
off by more than ``threshold``. With ``threshold = 0`` the outputs are the offline network's, up
to rounding.

Compute is counted in the convs' multiply-adds: an output position costs its whole kernel (all
time taps) at a frame when any input of its window propagated a change, and the first frame
also costs the conv of the held padding (with a static start, one conv with the taps summed:
a third of a ``step`` for time kernels of 3; counted even for a difference stem, whose summed
taps are zero). The count is what a sparse kernel (gathering the changed windows) would do;
this implementation computes each change densely, so it saves no time by itself.

A net whose convs pad time with zeros (``causal_tiny()``) sees every position of its inner
layers change during its first frames, while its time windows fill with real frames;
``causal_tiny(static_start=True)`` pads them with the first frame (the stream has shown it
forever), so from the first frame on only what moves changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.nn.video import CausalVideoNet
from seesall.nn.video.causal import CausalBlock


@dataclass
class _LayerState:
    """One conv's stream state: the input as propagated so far, the pre-activation, and the
    products of past changes with later time taps, by the frame they are due."""

    propagated: Tensor  # (B, C, H, W)
    pre: Tensor  # (B, C', H', W')
    due: dict[int, Tensor] = field(default_factory=dict)
    t: int = 0


@dataclass
class DeltaResult:
    """Per-frame logits Tensor[B, T, K] and multiply-adds Tensor[B, T] of each stream, against
    ``dense_macs``, what ``CausalVideoNet.step`` costs one stream over all its T frames (the same
    on every frame)."""

    logits: Tensor
    frame_macs: Tensor
    dense_macs: float

    @property
    def macs(self) -> Tensor:
        """Tensor[B]: the multiply-adds each stream cost."""
        return self.frame_macs.sum(dim=1)

    @property
    def clip_logits(self) -> Tensor:
        """Tensor[B, K]: the mean of the per-frame logits (as ``CausalClip``)."""
        return self.logits.mean(dim=1)

    @property
    def macs_fraction(self) -> Tensor:
        """Tensor[B]: the share of the dense multiply-adds spent, in [0, 1]."""
        return self.macs / self.dense_macs


class DeltaStream:
    """Streaming inference that recomputes only what changed (module docstring); ``threshold`` is
    the knob, in the units of each layer's input (mean absolute change over channels). The
    network is put in eval mode (BatchNorm's running statistics), as ``step`` needs."""

    def __init__(self, *, net: CausalVideoNet, threshold: float = 0.0) -> None:
        if not threshold >= 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if net.velocity:
            raise ValueError("DeltaStream takes a difference or plain causal net, not a velocity net")
        self.net = net.eval()
        self.threshold = float(threshold)

    @staticmethod
    def _macs_per_output(block: CausalBlock) -> int:
        """Multiply-adds of one output position of the block's conv, all time taps."""
        return block.conv.conv.weight.numel()

    def _layer(self, block: CausalBlock, x: Tensor, state: _LayerState | None
               ) -> tuple[Tensor, _LayerState, Tensor]:
        """Input Tensor[B, C, H, W] -> (output, new state, multiply-adds Tensor[B])."""
        conv = block.conv
        c = conv.conv
        weights = conv.time_weights()  # (C', C, kt, kh, kw); index j weighs frame t - (kt - 1 - j) d
        kt, d = weights.shape[2], c.dilation[0]
        kh, kw = c.kernel_size[1:]
        stride, pad = c.stride[1], (kh // 2, kw // 2)
        first_frame_macs = x.new_zeros(x.shape[0])
        if state is None:  # before the stream: its time padding, held forever
            before = x if conv.static_start else torch.zeros_like(x)
            state = _LayerState(before, F.conv2d(before, weights.sum(dim=2), c.bias, stride, pad))
            if conv.static_start:  # one conv with the taps summed (zero padding: the bias only)
                first_frame_macs += state.pre[0, 0].numel() * self._macs_per_output(block) / kt
            passes = torch.ones_like(x[:, :1], dtype=torch.bool)
        else:
            passes = (x - state.propagated).abs().mean(dim=1, keepdim=True) > self.threshold
        # the propagated input becomes x exactly where the change passes (p + (x - p) may not be x)
        new = torch.where(passes, x, state.propagated)
        change, state.propagated = new - state.propagated, new
        # the change's products with every tap at once: lag k is weight index kt - 1 - k
        taps = weights.flip(2).permute(2, 0, 1, 3, 4).reshape(-1, weights.shape[1], kh, kw)  # (kt C', C, kh, kw)
        products = F.conv2d(change, taps, None, stride, pad).chunk(kt, dim=1)
        state.pre = state.pre + products[0] + state.due.pop(state.t, 0)
        for k in range(1, kt):
            due = state.t + k * d
            state.due[due] = state.due.get(due, 0) + products[k]
        changed = (change != 0).any(dim=1, keepdim=True).to(x.dtype)
        touched = F.max_pool2d(changed, (kh, kw), stride, pad).flatten(1).sum(dim=1)  # (B,)
        macs = first_frame_macs + touched * self._macs_per_output(block)
        state.t += 1
        return block.activate(state.pre), state, macs

    @torch.no_grad()
    def step(self, frame: Tensor, state: list[_LayerState | None] | None
             ) -> tuple[Tensor, list[_LayerState | None], Tensor]:
        """Frame Tensor[B, C, H, W] and state (None to start) -> (logits Tensor[B, K], new state,
        multiply-adds spent on this frame Tensor[B])."""
        self.net.check_frame(frame)
        state = state or [None] * len(self.net.blocks)
        x, new_state, macs = frame, [], frame.new_zeros(frame.shape[0])
        for block, layer in zip(self.net.blocks, state, strict=True):
            x, layer, m = self._layer(block, x, layer)
            new_state.append(layer)
            macs = macs + m
        return self.net.head(x.mean(dim=(2, 3))), new_state, macs

    def run(self, video: Tensor) -> DeltaResult:
        """Stream normalized clips Tensor[B, C, T, H, W] frame by frame."""
        if video.ndim != 5 or video.shape[2] < 1:
            raise ValueError(f"video must be [B, C, T, H, W] with T >= 1, got {list(video.shape)}")
        state, outs, macs = None, [], []
        for t in range(video.shape[2]):
            logits, state, m = self.step(video[:, :, t], state)
            outs.append(logits)
            macs.append(m)
        dense = sum(layer.pre[0, 0].numel() * self._macs_per_output(b) for b, layer in zip(self.net.blocks, state))
        return DeltaResult(torch.stack(outs, dim=1), torch.stack(macs, dim=1), float(dense * video.shape[2]))
