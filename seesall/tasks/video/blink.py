"""Temporal efficiency ("blink"): skip frames that barely changed and reuse cached outputs.

``BlinkStream`` runs a streaming causal network (``CausalVideoNet.step``) on a
stream of frames. A frame whose mean absolute change from the last *processed*
frame (on a 4x down-sampled grey copy, in [0, 1] units) is below ``threshold``
is not processed: its output is the cached output of the last processed frame
and the network's state is not advanced (the network sees a lower frame rate
where nothing happens). ``threshold = 0`` processes every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.nn.video import CausalVideoNet


def frame_change(a: Tensor, b: Tensor) -> float:
    """Mean absolute difference of two uint8 frames Tensor[3, H, W] on 4x down-sampled grey, in [0, 1]."""
    def small(x: Tensor) -> Tensor:
        return F.avg_pool2d(x.float().mean(dim=0, keepdim=True)[None], 4)[0] / 255.0

    return float((small(a) - small(b)).abs().mean())


@dataclass
class BlinkResult:
    """Per-frame logits Tensor[T, K] (reused where skipped) and which frames were processed."""

    logits: Tensor
    processed: Tensor  # (T,) bool

    @property
    def clip_logits(self) -> Tensor:
        """Tensor[K]: mean over all frames, as ``CausalClip``."""
        return self.logits.mean(dim=0)

    @property
    def skipped_fraction(self) -> float:
        return 1.0 - float(self.processed.float().mean())


class BlinkStream:
    """Streaming inference with frame skipping; ``threshold`` is the knob."""

    def __init__(self, *, net: CausalVideoNet, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        self.net = net.eval()
        self.threshold = threshold

    @torch.no_grad()
    def run(self, video: Tensor, normalized: Tensor) -> BlinkResult:
        """Stream one clip.

        Args:
            video: uint8 Tensor[T, 3, H, W], used to measure change.
            normalized: the same clip as the network's input, Tensor[3, T, H, W].
        """
        state: list = self.net.init_state(normalized[None, :, 0])
        last_frame, last_logits = None, None
        outs, processed = [], []
        for t in range(video.shape[0]):
            skip = last_frame is not None and frame_change(video[t], last_frame) < self.threshold
            if not skip:
                last_logits, state = self.net.step(normalized[None, :, t], state)
                last_frame = video[t]
            outs.append(last_logits[0])
            processed.append(not skip)
        return BlinkResult(torch.stack(outs), torch.tensor(processed))
