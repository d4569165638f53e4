"""Temporal efficiency ("blink"): skip frames that barely changed and reuse cached outputs.

``BlinkStream`` runs a streaming causal network (``CausalVideoNet.step``) on a
stream of frames. A frame whose change from the last *processed* frame is
below ``threshold`` is not processed: its output is the cached output of the
last processed frame and the network's state is not advanced (the network sees
a lower frame rate where little happens). ``threshold = 0`` processes every
frame.

The change measure is local (``frame_change``): grey frames averaged over
``block x block`` cells, absolute difference per cell, maximum over cells. A
small actor moving by a few pixels changes a few cells a lot, which a global
mean over the frame dilutes by its area; pixel noise is averaged down by the
cells. ``uniform_keep`` is the content-blind baseline (every s-th frame).

Skipping makes the network see the frames it processes at uneven, lower frame
rates and reuse outputs for the rest. The clip's prediction is the mean of the
outputs the network computed: a reused output adds no evidence, so a stream whose
frames repeat (the scene holds still) is classified as the stream without the
repeats, whatever the pauses' lengths. ``max_skip`` bounds a run of skipped
frames, so that a slow change is still looked at now and then.

Skipping changes the frame timing the network sees; ``seesall.tasks.video.delta`` cheapens
frames instead (every layer recomputes only where its input changed), which keeps it.

``blink_clip_logits`` reproduces the stream exactly offline on a batch, for skip
patterns drawn at random (``random_keep``) or made by the stream's own rule
(``threshold_keep``, batched), so a causal model can be trained on skip patterns
(``CausalClip(frame_skip=p, skip_thresholds=...)``) and be robust to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.nn.video import CausalVideoNet


def grey_cells(frames: Tensor, block: int = 4) -> Tensor:
    """Frames Tensor[..., 3, H, W] in [0, 1] -> grey cell means Tensor[..., H / block, W / block]
    (``block x block`` cells, the last ones partial when ``block`` does not divide H or W)."""
    grey = frames.mean(dim=-3)  # (..., H, W)
    lead, (h, w) = grey.shape[:-2], grey.shape[-2:]
    cells = F.avg_pool2d(grey.reshape(-1, 1, h, w), block, ceil_mode=True)
    return cells.reshape(*lead, *cells.shape[-2:])


def _cells(x: Tensor, block: int) -> Tensor:
    """uint8 Tensor[3, H, W] -> grey cell means Tensor[H / block, W / block] in [0, 1]."""
    return grey_cells(x.float() / 255.0, block)


def frame_change(a: Tensor, b: Tensor, *, block: int = 4, reduce: str = "max") -> float:
    """Change between two uint8 frames Tensor[3, H, W], in [0, 1].

    Grey cell means over ``block x block`` pixels, absolute difference per cell, then the
    maximum over cells (``reduce="max"``, local) or their mean (``reduce="mean"``, global).
    """
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"frames must share shape [3, H, W], got {list(a.shape)} and {list(b.shape)}")
    diff = (_cells(a, block) - _cells(b, block)).abs()
    if reduce == "max":
        return float(diff.max())
    if reduce == "mean":
        return float(diff.mean())
    raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")


def blink_keep(video: Tensor, threshold: float, *, block: int = 4, reduce: str = "max",
               max_skip: int | None = None) -> Tensor:
    """The frames ``BlinkStream`` processes on uint8 Tensor[T, 3, H, W]: Tensor[k] indices from 0,
    each frame kept when its change from the last kept frame is >= ``threshold`` or when
    ``max_skip`` frames in a row have been skipped before it (``threshold_keep`` on one clip)."""
    cells = grey_cells(video.float() / 255.0, block)[None]  # (1, T, h, w)
    keep, lengths = threshold_keep(cells, threshold, reduce=reduce, max_skip=max_skip)
    return keep[0, : int(lengths[0])]


def threshold_keep(cells: Tensor, threshold: Tensor | float, *, reduce: str = "max",
                   max_skip: int | None = None) -> tuple[Tensor, Tensor]:
    """``BlinkStream``'s skip decision on a batch, for measuring it offline and training on it.

    Args:
        cells: grey cell means Tensor[B, T, h, w] (``grey_cells``).
        threshold: Tensor[B] (one knob setting per clip) or a float.
        reduce: ``frame_change``'s reduction over cells, "max" (local) or "mean" (global).
        max_skip: most frames skipped in a row (None: no limit).

    Returns:
        (keep Tensor[B, k] indices: each row's kept frames in order, then the clip's other frames
        in order up to the longest row's length, lengths Tensor[B]: the number of kept frames of
        each row), as ``blink_clip_logits`` takes them. The padding's outputs are not counted and
        cannot reach the kept frames' (the network is causal); being real frames, they keep
        BatchNorm's batch statistics in training those of moving clips, which repeated frames
        (no motion at all) would drag down.
    """
    if reduce not in ("max", "mean"):
        raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
    if max_skip is not None and max_skip < 0:
        raise ValueError(f"max_skip must be >= 0 or None, got {max_skip}")
    b, t = cells.shape[:2]
    dev = cells.device
    th = torch.as_tensor(threshold, dtype=cells.dtype, device=dev).expand(b)
    kept = torch.zeros(b, t, dtype=torch.bool, device=dev)
    kept[:, 0] = True
    last, last_t = cells[:, 0], torch.zeros(b, dtype=torch.int64, device=dev)
    for i in range(1, t):
        diff = (cells[:, i] - last).abs()
        change = diff.amax(dim=(1, 2)) if reduce == "max" else diff.mean(dim=(1, 2))  # (B,)
        keep_now = (th == 0) | (change >= th)
        if max_skip is not None:
            keep_now |= i - last_t > max_skip
        kept[:, i] = keep_now
        last = torch.where(keep_now[:, None, None], cells[:, i], last)
        last_t = torch.where(keep_now, i, last_t)
    lengths = kept.sum(dim=1)
    index = torch.arange(t, device=dev).expand(b, t)
    order = torch.where(kept, index, index + t).sort(dim=1).values[:, : int(lengths.max())]
    return order % t, lengths


def blink_clip_logits(net: CausalVideoNet, video: Tensor, keep: Tensor,
                      lengths: Tensor | None = None) -> Tensor:
    """What ``BlinkStream`` outputs for a given skip pattern, on a batch.

    Args:
        net: the causal network.
        video: normalized clips Tensor[B, C, T, H, W].
        keep: processed frame indices Tensor[B, k], each row starting at 0; with ``lengths``,
            only each row's first ``lengths`` indices are the kept frames (sorted) and any
            indices after them pad the row.
        lengths: Tensor[B], or None: every index of a row is a kept frame. The network being
            causal, padding does not change the result in eval mode (in training mode
            BatchNorm's batch statistics include the padded frames).

    Returns:
        Tensor[B, K]: the mean of the per-frame logits the network computes when it runs on the
        kept frames only (a shorter, uneven-rate clip); the skipped frames' reused outputs do not
        count again.
    """
    if keep.ndim != 2 or bool((keep[:, 0] != 0).any()):
        raise ValueError(f"keep must be [B, k] indices starting at frame 0, got {keep.tolist()}")
    b, c, _, h, w = video.shape
    idx = keep[:, None, :, None, None].expand(b, c, keep.shape[1], h, w)
    gaps = None
    if net.velocity:  # frames since the last kept one (the first frame's is unused; the padding's
        steps = keep.diff(dim=1, prepend=keep[:, :1] - 1)  # is made positive, its outputs unused)
        gaps = torch.where(steps > 0, steps, steps.abs() + 1).to(video.dtype)
    logits = net(video.gather(2, idx), gaps)  # (B, k, K)
    if lengths is None:
        return logits.mean(dim=1)
    if lengths.shape != (b,) or bool(((lengths < 1) | (lengths > keep.shape[1])).any()):
        raise ValueError(f"lengths must be [B] in [1, {keep.shape[1]}], got {lengths.tolist()}")
    valid = (torch.arange(keep.shape[1], device=keep.device) < lengths[:, None]).to(logits.dtype)
    return (logits * valid[..., None]).sum(dim=1) / lengths[:, None].to(logits.dtype)


def random_keep(batch: int, length: int, *, generator: torch.Generator | None = None,
                min_keep: int = 2) -> Tensor:
    """A random skip pattern per clip: Tensor[B, k] sorted frame indices, frame 0 always kept,
    k drawn once for the batch uniformly from [min_keep, length]."""
    if not 1 <= min_keep <= length:
        raise ValueError(f"min_keep must be in [1, {length}], got {min_keep}")
    k = int(torch.randint(min_keep, length + 1, (1,), generator=generator))
    rest = torch.rand(batch, length - 1, generator=generator).argsort(dim=1)[:, : k - 1] + 1
    return torch.cat([torch.zeros(batch, 1, dtype=torch.int64), rest.sort(dim=1).values], dim=1)


def uniform_keep(length: int, stride: int) -> Tensor:
    """Every ``stride``-th frame from 0: Tensor[ceil(length / stride)] (content-blind skipping)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return torch.arange(0, length, stride)


@dataclass
class BlinkResult:
    """Per-frame logits Tensor[T, K] (reused where skipped) and which frames were processed."""

    logits: Tensor
    processed: Tensor  # (T,) bool

    @property
    def clip_logits(self) -> Tensor:
        """Tensor[K]: mean of the processed frames' outputs (``blink_clip_logits``)."""
        return self.logits[self.processed].mean(dim=0)

    @property
    def skipped_fraction(self) -> float:
        return 1.0 - float(self.processed.float().mean())


class BlinkStream:
    """Streaming inference with frame skipping; ``threshold`` is the knob (``frame_change`` units,
    measured against the last processed frame); ``max_skip`` bounds a run of skipped frames
    (None: unbounded), so that a slow change is still looked at now and then."""

    def __init__(self, *, net: CausalVideoNet, threshold: float, block: int = 4,
                 reduce: str = "max", max_skip: int | None = None) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        if max_skip is not None and max_skip < 0:
            raise ValueError(f"max_skip must be >= 0 or None, got {max_skip}")
        self.net = net.eval()
        self.threshold = threshold
        self.block = block
        self.reduce = reduce
        self.max_skip = max_skip

    def _skip(self, frame: Tensor, last: Tensor | None, run: int) -> bool:
        if last is None or self.threshold == 0 or (self.max_skip is not None and run >= self.max_skip):
            return False
        return frame_change(frame, last, block=self.block, reduce=self.reduce) < self.threshold

    @torch.no_grad()
    def run(self, video: Tensor, normalized: Tensor) -> BlinkResult:
        """Stream one clip.

        Args:
            video: uint8 Tensor[T, 3, H, W], used to measure change.
            normalized: the same clip as the network's input, Tensor[3, T, H, W].
        """
        state: list = self.net.init_state(normalized[None, :, 0])
        last_frame, last_logits, run = None, None, 0
        outs, processed = [], []
        for t in range(video.shape[0]):
            skip = self._skip(video[t], last_frame, run)
            if not skip:
                last_logits, state = self.net.step(normalized[None, :, t], state, gap=run + 1)
                last_frame = video[t]
            run = run + 1 if skip else 0
            outs.append(last_logits[0])
            processed.append(not skip)
        return BlinkResult(torch.stack(outs), torch.tensor(processed))
