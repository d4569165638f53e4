"""Video building blocks: 3D conv stacks, causal 3D convs with streaming, SlowFast, I3D inflation.

Every video network here takes ``Tensor[B, C, T, H, W]`` float (channels first,
then time, as ``nn.Conv3d`` wants) and returns raw logits.

* ``blocks``: ``Conv3dBNAct`` / ``ResBlock3d`` / ``VideoResNet``, C3D / R3D-style
  stacks with stride, dilation and padding in time; and ``DifferenceConv3d``, a
  learned temporal-difference stem (TSN's "RGB difference" input, learned as in
  TDN): a Conv3d whose kernel is re-centred to sum to zero along time, so it
  sees only what changes and a static clip gives exactly zero. ``motion=True``
  puts it first in the 3D CNNs, the fast pathway and the causal network
  (``slow_motion=True``: the slow pathway too, without which SlowFast's RGB slow
  pathway fits the training clips' appearance). Without it, a small 3D CNN
  trained from scratch on textured clips where the actor covers a few % of the
  pixels spends hundreds of steps fitting the appearance of the training clips
  before motion shows in its loss.
* ``causal``: ``CausalConv3d`` / ``CausalVideoNet``, the time axis left-padded by
  ``(k_t - 1) * dilation_t`` zeros, so the output at frame t only sees frames
  <= t. ``step`` runs the same network one frame at a time, keeping for every
  layer a cache of its last ``(k_t - 1) * dilation_t`` input frames, and
  reproduces the offline outputs. ``velocity=True`` (``velocities``) feeds the first
  conv each frame's difference from the previous one divided by the time between
  them, so a stream that skips frames still shows motions at their learned speed.
* ``slowfast``: ``SlowFast``, a slow pathway on every alpha-th frame with many
  channels and a fast pathway on all frames with beta x the channels,
  time-strided lateral convs fast -> slow, and a head on both pooled pathways.
* ``inflate``: ``inflate_2d``, I3D inflation of a 2D CNN, each k x k kernel tiled
  T times along time and divided by T (time padding replicates the border
  frames), so a static clip gives the 2D network's output.
"""

from seesall.nn.video.blocks import (
    Conv3dBNAct,
    DifferenceConv3d,
    ResBlock3d,
    VideoResNet,
    c3d_tiny,
    motion_stem,
    r3d_tiny,
)
from seesall.nn.video.causal import (
    CausalBlock,
    CausalConv3d,
    CausalVideoNet,
    causal_tiny,
    velocities,
)
from seesall.nn.video.inflate import InflatedConv3d, inflate_2d, inflate_conv2d
from seesall.nn.video.slowfast import SlowFast, slowfast_tiny

__all__ = [
    "CausalBlock", "CausalConv3d", "CausalVideoNet", "Conv3dBNAct", "DifferenceConv3d",
    "InflatedConv3d", "ResBlock3d", "SlowFast", "VideoResNet", "c3d_tiny", "causal_tiny",
    "inflate_2d", "inflate_conv2d", "motion_stem", "r3d_tiny", "slowfast_tiny",
    "velocities",
]
