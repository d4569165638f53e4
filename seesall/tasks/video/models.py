"""Action recognition models: one interface, ``forward(video, flow=None) -> logits``.

Inputs are normalized clips ``Tensor[B, 3, T, H, W]`` (see ``normalize_video``) and,
for the models with ``uses_flow = True``, the flow between consecutive frames
``Tensor[B, 2, T - 1, H, W]`` in pixels. Outputs are logits ``Tensor[B, K]``.

* ``PerFrame2D``: a 2D CNN on every frame, frame logits averaged (the baseline
  that cannot see motion: it is blind to the order and displacement of frames).
* ``SingleFrame``: a 2D CNN on the first frame only.
* 3D CNNs and SlowFast from ``seesall.nn.video``, wrapped by ``ClipModel``; the
  ``*_motion`` variants start with a temporal-difference conv (``motion_stem``).
* ``CausalClip``: the causal streaming 3D CNN, clip logits = mean of frame logits.
* ``TwoStream``: a spatial stream (per-frame 2D on RGB) and a temporal stream
  (a 2D CNN on the stacked flow fields, 2 (T - 1) channels), logits averaged.
* ``i3d_tiny``: the per-frame 2D CNN inflated to 3D (I3D).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from seesall.nn.video import (
    CausalVideoNet,
    c3d_tiny,
    causal_tiny,
    inflate_2d,
    r3d_tiny,
    slowfast_tiny,
)
from seesall.tasks.video.blink import blink_clip_logits, random_keep

VIDEO_MEAN = (0.45, 0.45, 0.45)
VIDEO_STD = (0.225, 0.225, 0.225)


def normalize_video(video: Tensor) -> Tensor:
    """uint8 Tensor[B, T, 3, H, W] (the data model's layout) -> float Tensor[B, 3, T, H, W]."""
    if video.dtype != torch.uint8 or video.ndim != 5 or video.shape[2] != 3:
        raise ValueError(f"video must be uint8 [B, T, 3, H, W], got {video.dtype} {list(video.shape)}")
    x = video.permute(0, 2, 1, 3, 4).float() / 255.0  # (B, 3, T, H, W)
    mean = x.new_tensor(VIDEO_MEAN).view(1, 3, 1, 1, 1)
    std = x.new_tensor(VIDEO_STD).view(1, 3, 1, 1, 1)
    return (x - mean) / std


def frame_cnn(*, num_classes: int, in_channels: int = 3, width: int = 16) -> nn.Sequential:
    """A small 2D CNN (Conv-BN-ReLU x 4, strides 2, 2, 2, 1), inflatable by ``inflate_2d``."""
    w = width

    def block(cin: int, cout: int, stride: int, k: int = 3) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(in_channels, w, 2, 5), *block(w, 2 * w, 2), *block(2 * w, 4 * w, 2),
        *block(4 * w, 4 * w, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, num_classes),
    )


class PerFrame2D(nn.Module):
    """Average of a 2D model's logits over the frames."""

    uses_flow = False

    def __init__(self, *, frame_model: nn.Module) -> None:
        super().__init__()
        self.frame_model = frame_model

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        b, c, t, h, w = video.shape
        frames = video.transpose(1, 2).reshape(b * t, c, h, w)  # (B * T, C, H, W)
        return self.frame_model(frames).view(b, t, -1).mean(dim=1)


class SingleFrame(nn.Module):
    """A 2D model on one frame of the clip (by default the first): what one glance can tell."""

    uses_flow = False

    def __init__(self, *, frame_model: nn.Module, frame: int = 0) -> None:
        super().__init__()
        self.frame_model = frame_model
        self.frame = frame

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        return self.frame_model(video[:, :, self.frame])  # (B, 3, H, W) -> (B, K)


class ClipModel(nn.Module):
    """A 3D network on the whole clip (3D CNN, SlowFast, I3D)."""

    uses_flow = False

    def __init__(self, *, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        return self.net(video)


class CausalClip(nn.Module):
    """The causal 3D CNN; clip logits are the mean of its per-frame (causal) logits.

    With ``frame_skip = p > 0``, a training batch is, with probability p, run as the blink
    stream would run it under a random skip pattern (``random_keep``: the network sees a
    random subset of at least ``min_keep`` x T of the frames, skipped frames reuse the last
    output), so the model learns to classify uneven, lower frame rates too. Evaluation
    always uses every frame.
    """

    uses_flow = False

    def __init__(self, *, net: CausalVideoNet, frame_skip: float = 0.0, min_keep: float = 0.5
                 ) -> None:
        super().__init__()
        if not 0.0 <= frame_skip <= 1.0:
            raise ValueError(f"frame_skip must be in [0, 1], got {frame_skip}")
        if not 0.0 < min_keep <= 1.0:
            raise ValueError(f"min_keep must be in (0, 1], got {min_keep}")
        self.net = net
        self.frame_skip = frame_skip
        self.min_keep = min_keep

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        if self.training and self.frame_skip > 0 and float(torch.rand(())) < self.frame_skip:
            t = video.shape[2]
            keep = random_keep(video.shape[0], t, min_keep=max(1, math.ceil(self.min_keep * t)))
            keep = keep.to(video.device)
            return blink_clip_logits(self.net, video, keep)
        return self.net(video).mean(dim=1)


class TwoStream(nn.Module):
    """Late fusion of a spatial (RGB) stream and a temporal (stacked flow) stream.

    The output is the fused logits Tensor[B, K] (the mean of the two streams'). With
    ``stream_losses=True`` the output in training mode is the per-stream logits
    Tensor[B, 2, K] instead, which ``action_loss`` supervises each on its own (as the two
    streams of Simonyan & Zisserman's network are trained separately); the default trains
    the fused logits jointly.

    Args:
        spatial: model on the RGB clip, Tensor[B, 3, T, H, W] -> Tensor[B, K].
        temporal: 2D CNN on Tensor[B, 2 (T - 1), H, W] stacked flows -> Tensor[B, K].
        flow_scale: flows are divided by this before the temporal stream.
        stream_losses: return per-stream logits in training mode.
    """

    uses_flow = True

    def __init__(self, *, spatial: nn.Module, temporal: nn.Module, flow_scale: float = 4.0,
                 stream_losses: bool = False) -> None:
        super().__init__()
        self.spatial = spatial
        self.temporal = temporal
        self.flow_scale = flow_scale
        self.stream_losses = stream_losses

    def stream_logits(self, video: Tensor, flow: Tensor | None) -> Tensor:
        """Tensor[B, 2, K]: the spatial and the temporal stream's logits."""
        if flow is None:
            raise ValueError("TwoStream needs flow of shape [B, 2, T - 1, H, W]")
        b, _, t, h, w = video.shape
        if flow.shape != (b, 2, t - 1, h, w):
            raise ValueError(f"flow must have shape {[b, 2, t - 1, h, w]}, got {list(flow.shape)}")
        stacked = flow.transpose(1, 2).reshape(b, 2 * (t - 1), h, w) / self.flow_scale
        return torch.stack([self.spatial(video), self.temporal(stacked)], dim=1)  # (B, 2, K)

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        streams = self.stream_logits(video, flow)
        if self.training and self.stream_losses:
            return streams
        return streams.mean(dim=1)  # (B, K)


def per_frame_2d(*, num_classes: int, clip_length: int = 8) -> PerFrame2D:
    return PerFrame2D(frame_model=frame_cnn(num_classes=num_classes))


def single_frame(*, num_classes: int, clip_length: int = 8) -> SingleFrame:
    return SingleFrame(frame_model=frame_cnn(num_classes=num_classes))


def c3d(*, num_classes: int, clip_length: int = 8) -> ClipModel:
    return ClipModel(net=c3d_tiny(num_classes=num_classes))


def r3d(*, num_classes: int, clip_length: int = 8) -> ClipModel:
    return ClipModel(net=r3d_tiny(num_classes=num_classes))


def slowfast(*, num_classes: int, clip_length: int = 8) -> ClipModel:
    return ClipModel(net=slowfast_tiny(num_classes=num_classes, alpha=4, beta=0.25))


def causal3d(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    return CausalClip(net=causal_tiny(num_classes=num_classes))


def r3d_motion(*, num_classes: int, clip_length: int = 8) -> ClipModel:
    """R3D whose stem is a learned temporal-difference conv (sees only what changes)."""
    return ClipModel(net=r3d_tiny(num_classes=num_classes, motion=True))


def slowfast_motion(*, num_classes: int, clip_length: int = 8) -> ClipModel:
    """SlowFast whose two pathways start with temporal-difference convs (the slow one over its
    alpha-strided frames). With an RGB slow pathway the net fits the training clips' appearance
    (23 % held-out top-1 at 100 steps vs 53 % with both stems)."""
    return ClipModel(net=slowfast_tiny(num_classes=num_classes, alpha=4, beta=0.25, motion=True,
                                       slow_motion=True))


def causal3d_motion(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """The causal streaming CNN with a causal temporal-difference first conv."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True))


def causal3d_motion_skip(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """``causal3d_motion`` trained on random skip patterns half of the time (for blink)."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True), frame_skip=0.5)


def i3d(*, num_classes: int, clip_length: int = 8, frame_model: nn.Module | None = None
        ) -> ClipModel:
    """I3D: the per-frame CNN inflated (time kernel 3); pass a trained ``frame_model`` to start
    from its weights."""
    base = frame_model if frame_model is not None else frame_cnn(num_classes=num_classes)
    return ClipModel(net=inflate_2d(base, time_kernel=3))


def two_stream(*, num_classes: int, clip_length: int = 8) -> TwoStream:
    return TwoStream(spatial=per_frame_2d(num_classes=num_classes),
                     temporal=frame_cnn(num_classes=num_classes, in_channels=2 * (clip_length - 1)))


MODELS = {
    "per_frame_2d": per_frame_2d,
    "single_frame": single_frame,
    "c3d": c3d,
    "r3d": r3d,
    "slowfast": slowfast,
    "causal3d": causal3d,
    "r3d_motion": r3d_motion,
    "slowfast_motion": slowfast_motion,
    "causal3d_motion": causal3d_motion,
    "causal3d_motion_skip": causal3d_motion_skip,
    "i3d": i3d,
    "two_stream": two_stream,
}
"""Model table: name -> factory(num_classes=, clip_length=)."""
