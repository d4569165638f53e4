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
* ``TwoStream``: a spatial stream (2D CNN on RGB) and a temporal stream on the flows, late
  fusion. ``two_stream``: one RGB frame + a 3D CNN on the flow sequence (as I3D's flow
  stream), each stream on its own loss, softmax scores fused with a weight chosen on held-out
  training clips (``choose_fusion_weight``); ``two_stream_2d``: all frames + a 2D CNN on the
  stacked flow fields (2 (T - 1) channels), logits averaged, trained jointly.
* ``i3d_tiny``: the per-frame 2D CNN inflated to 3D (I3D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seesall.nn.video import (
    CausalVideoNet,
    c3d_tiny,
    causal_tiny,
    inflate_2d,
    r3d_tiny,
    slowfast_tiny,
)
from seesall.tasks.video.blink import blink_clip_logits, grey_cells, random_keep, threshold_keep

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


def denormalize_video(video: Tensor) -> Tensor:
    """``normalize_video``'s inverse: Tensor[B, 3, T, H, W] -> Tensor[B, T, 3, H, W] in [0, 1]."""
    mean = video.new_tensor(VIDEO_MEAN).view(1, 3, 1, 1, 1)
    std = video.new_tensor(VIDEO_STD).view(1, 3, 1, 1, 1)
    return (video * std + mean).transpose(1, 2)


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
    stream would run it under a skip pattern, so the model learns to classify the uneven, lower
    frame rates it then sees: the clip logits are the mean of the outputs on the kept frames.
    The patterns are random (``random_keep``: a random subset of at least ``min_keep`` x T of
    the frames), or, with ``skip_thresholds = (lo, hi)``, the blink stream's own
    (``threshold_keep`` at a threshold drawn per clip uniformly from [lo, hi], with
    ``max_skip``). Evaluation always uses every frame.
    """

    uses_flow = False

    def __init__(self, *, net: CausalVideoNet, frame_skip: float = 0.0, min_keep: float = 0.5,
                 skip_thresholds: tuple[float, float] | None = None, max_skip: int | None = None
                 ) -> None:
        super().__init__()
        if not 0.0 <= frame_skip <= 1.0:
            raise ValueError(f"frame_skip must be in [0, 1], got {frame_skip}")
        if not 0.0 < min_keep <= 1.0:
            raise ValueError(f"min_keep must be in (0, 1], got {min_keep}")
        if skip_thresholds is not None and not 0.0 <= skip_thresholds[0] <= skip_thresholds[1]:
            raise ValueError(f"skip_thresholds must be (lo, hi) with 0 <= lo <= hi, got {skip_thresholds}")
        if (skip_thresholds is not None or max_skip is not None) and frame_skip == 0:
            raise ValueError("skip_thresholds and max_skip shape the skip patterns: they need frame_skip > 0")
        if max_skip is not None and max_skip < 0:
            raise ValueError(f"max_skip must be >= 0 or None, got {max_skip}")
        self.net = net
        self.frame_skip = frame_skip
        self.min_keep = min_keep
        self.skip_thresholds = skip_thresholds
        self.max_skip = max_skip

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        if self.training and self.frame_skip > 0 and float(torch.rand(())) < self.frame_skip:
            b, t = video.shape[0], video.shape[2]
            lengths = None
            if self.skip_thresholds is not None:
                threshold = torch.empty(b, device=video.device).uniform_(*self.skip_thresholds)
                with torch.no_grad():
                    cells = grey_cells(denormalize_video(video))
                keep, lengths = threshold_keep(cells, threshold, max_skip=self.max_skip)
            else:
                keep = random_keep(b, t, min_keep=max(1, math.ceil(self.min_keep * t))).to(video.device)
            return blink_clip_logits(self.net, video, keep, lengths)
        return self.net(video).mean(dim=1)


FUSIONS = ("logits", "softmax")


def fuse_streams(streams: Tensor, spatial_weight: float | Tensor, fusion: str = "logits") -> Tensor:
    """Late fusion of per-stream logits Tensor[B, 2, K] (spatial, temporal) -> Tensor[B, K].

    ``"logits"``: w * spatial + (1 - w) * temporal logits; ``"softmax"``: the log of
    w * softmax(spatial) + (1 - w) * softmax(temporal) (Simonyan & Zisserman average the
    streams' softmax scores), i.e. log-probabilities, whose argmax and top-k are the fused
    scores'.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    if streams.ndim != 3 or streams.shape[1] != 2:
        raise ValueError(f"streams must have shape [B, 2, K], got {list(streams.shape)}")
    w = torch.as_tensor(spatial_weight, dtype=streams.dtype, device=streams.device)
    weights = torch.stack([w, 1 - w]).view(1, 2, 1)  # (1, 2, 1)
    if fusion == "logits":
        return (weights * streams).sum(dim=1)
    log_w = weights.clamp_min(1e-12).log()
    return torch.logsumexp(streams.log_softmax(dim=2) + log_w, dim=1)  # (B, K)


def choose_fusion_weight(streams: Tensor, labels: Tensor, *, fusion: str = "softmax",
                         grid: int = 11) -> float:
    """The spatial weight in ``linspace(0, 1, grid)`` whose fused top-1 on ``streams``
    Tensor[N, 2, K] (logits of clips the streams were *not* trained on) is highest; ties go to
    the lower fused cross-entropy."""
    if labels.shape != streams.shape[:1]:
        raise ValueError(f"labels must have shape {[streams.shape[0]]}, got {list(labels.shape)}")
    scores = []
    for w in torch.linspace(0, 1, grid).tolist():
        fused = fuse_streams(streams, w, fusion)
        acc = float((fused.argmax(dim=1) == labels).float().mean())
        scores.append((acc, -float(F.cross_entropy(fused, labels)), w))
    return max(scores)[2]


class TwoStream(nn.Module):
    """Late fusion of a spatial (RGB) stream and a temporal (optical flow) stream.

    The output is the fused logits Tensor[B, K] (``fuse_streams`` with ``fusion`` and the
    buffer ``spatial_weight``, 0.5 by default: the mean of the two streams' logits or softmax
    scores). With ``stream_losses=True`` the output in training mode is the per-stream logits
    Tensor[B, 2, K] instead, which ``action_loss`` supervises each on its own (as the two
    streams of Simonyan & Zisserman's network are trained separately); the default trains
    the fused logits jointly. ``choose_fusion_weight`` picks ``spatial_weight`` on held-out
    training clips (``set_fusion_weight``).

    Args:
        spatial: model on the RGB clip, Tensor[B, 3, T, H, W] -> Tensor[B, K].
        temporal: model on the flows. ``flow_layout="stacked"``: a 2D CNN on the flows
            stacked as channels, Tensor[B, 2 (T - 1), H, W]; ``"sequence"``: a 3D CNN on the
            flow sequence Tensor[B, 2, T - 1, H, W] (I3D's flow stream).
        flow_scale: flows are divided by this before the temporal stream.
        stream_losses: return per-stream logits in training mode.
        fusion: ``"logits"`` or ``"softmax"`` (see ``fuse_streams``).
        spatial_weight: the spatial stream's fusion weight w (the temporal stream's is 1 - w).
    """

    uses_flow = True

    def __init__(self, *, spatial: nn.Module, temporal: nn.Module, flow_scale: float = 4.0,
                 stream_losses: bool = False, flow_layout: str = "stacked",
                 fusion: str = "logits", spatial_weight: float = 0.5) -> None:
        super().__init__()
        if flow_layout not in ("stacked", "sequence"):
            raise ValueError(f"flow_layout must be 'stacked' or 'sequence', got {flow_layout!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        self.spatial = spatial
        self.temporal = temporal
        self.flow_scale = flow_scale
        self.stream_losses = stream_losses
        self.flow_layout = flow_layout
        self.fusion = fusion
        self.register_buffer("spatial_weight", torch.tensor(0.0))
        self.set_fusion_weight(spatial_weight)

    def set_fusion_weight(self, spatial_weight: float) -> None:
        if not 0.0 <= spatial_weight <= 1.0:
            raise ValueError(f"spatial_weight must be in [0, 1], got {spatial_weight}")
        self.spatial_weight.fill_(spatial_weight)

    def stream_logits(self, video: Tensor, flow: Tensor | None) -> Tensor:
        """Tensor[B, 2, K]: the spatial and the temporal stream's logits."""
        if flow is None:
            raise ValueError("TwoStream needs flow of shape [B, 2, T - 1, H, W]")
        b, _, t, h, w = video.shape
        if flow.shape != (b, 2, t - 1, h, w):
            raise ValueError(f"flow must have shape {[b, 2, t - 1, h, w]}, got {list(flow.shape)}")
        flow = flow / self.flow_scale
        if self.flow_layout == "stacked":
            flow = flow.transpose(1, 2).reshape(b, 2 * (t - 1), h, w)  # (B, 2 (T - 1), H, W)
        return torch.stack([self.spatial(video), self.temporal(flow)], dim=1)  # (B, 2, K)

    def forward(self, video: Tensor, flow: Tensor | None = None) -> Tensor:
        streams = self.stream_logits(video, flow)
        if self.training and self.stream_losses:
            return streams
        return fuse_streams(streams, self.spatial_weight, self.fusion)  # (B, K)


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
    alpha-strided frames): with an RGB slow pathway the net first fits the training clips'
    appearance, which holds no class information in the world's clips."""
    return ClipModel(net=slowfast_tiny(num_classes=num_classes, alpha=4, beta=0.25, motion=True,
                                       slow_motion=True))


def causal3d_motion(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """The causal streaming CNN with a causal temporal-difference first conv."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True))


def causal3d_motion_static(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """``causal3d_motion`` whose convs pad time with the first frame (a static start), so that
    from the first frame on its layers' inputs change only where the clip moves: the net for
    ``DeltaStream``."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True, static_start=True))


def causal3d_motion_skip(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """``causal3d_motion`` trained on random skip patterns half of the time (for blink)."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True), frame_skip=0.5)


def causal3d_motion_blink(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """``causal3d_motion`` trained half of the time on the blink stream's own skip patterns
    (thresholds drawn from [0, 0.1], at most 3 frames skipped in a row)."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, motion=True), frame_skip=0.5,
                      skip_thresholds=(0.0, 0.1), max_skip=3)


def causal3d_velocity_blink(*, num_classes: int, clip_length: int = 8) -> CausalClip:
    """``causal3d_motion_blink`` whose first conv sees the frames' differences per frame of time
    (``causal_tiny(velocity=True)``), so that it knows how far apart the kept frames are."""
    return CausalClip(net=causal_tiny(num_classes=num_classes, velocity=True), frame_skip=0.5,
                      skip_thresholds=(0.0, 0.1), max_skip=3)


def i3d(*, num_classes: int, clip_length: int = 8, frame_model: nn.Module | None = None
        ) -> ClipModel:
    """I3D: the per-frame CNN inflated (time kernel 3); pass a trained ``frame_model`` to start
    from its weights."""
    base = frame_model if frame_model is not None else frame_cnn(num_classes=num_classes)
    return ClipModel(net=inflate_2d(base, time_kernel=3))


def flow_r3d(*, num_classes: int, pool: int = 2, width: int = 16) -> nn.Sequential:
    """A 3D temporal stream (I3D's flow stream, from scratch): the flow sequence
    Tensor[B, 2, T - 1, H, W] average-pooled by ``pool`` in space, then an R3D."""
    return nn.Sequential(nn.AvgPool3d((1, pool, pool)),
                         r3d_tiny(num_classes=num_classes, in_channels=2, width=width))


def two_stream(*, num_classes: int, clip_length: int = 8) -> TwoStream:
    """Spatial stream on the middle RGB frame (Simonyan & Zisserman's one-frame stream) and a 3D
    temporal stream on the 2x-pooled flow sequence (``flow_r3d``), each trained on its own loss,
    softmax scores fused with ``spatial_weight`` (0.5 until ``choose_fusion_weight`` sets it)."""
    spatial = SingleFrame(frame_model=frame_cnn(num_classes=num_classes), frame=clip_length // 2)
    return TwoStream(spatial=spatial, temporal=flow_r3d(num_classes=num_classes),
                     flow_layout="sequence", stream_losses=True, fusion="softmax")


def two_stream_2d(*, num_classes: int, clip_length: int = 8) -> TwoStream:
    """The first two-stream: per-frame RGB spatial stream, a 2D CNN on the stacked flows, logits
    averaged and trained jointly (80.7 % vs ``two_stream``'s, see benchmarks/results/action.md)."""
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
    "causal3d_motion_static": causal3d_motion_static,
    "causal3d_motion_skip": causal3d_motion_skip,
    "causal3d_motion_blink": causal3d_motion_blink,
    "causal3d_velocity_blink": causal3d_velocity_blink,
    "i3d": i3d,
    "two_stream": two_stream,
    "two_stream_2d": two_stream_2d,
}
"""Model table: name -> factory(num_classes=, clip_length=)."""
