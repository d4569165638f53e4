"""How much of the causal net's work an exact "recompute only what changed" scheme would leave.

    .venv/bin/python benchmarks/blink_sparsity.py [--clips 200 --rate 1]

Cheapening frames instead of skipping them: at frame t, an output of a causal conv layer needs
recomputing only where its input changed at one of the frames its time kernel reads (t, t - d,
t - 2d for time kernel 3 and dilation d) within its spatial window; elsewhere the output of frame
t - 1 is still exact. Starting from the pixels that differ from the previous frame on held-out
world clips, this propagates the changed outputs through ``causal_tiny``'s kernels, strides and
time dilations and counts the multiply-adds of frames 1..T-1 that remain (frame 0 is computed in
full). No network is run: the count depends on the architecture and the clips only.
Writes benchmarks/results/blink_sparsity.{json,md} (blink_sparsity_x2.* with --rate 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from action import RESULTS, TEST_SEED, at_rate, render_clips, write_results

from seesall.nn.video import causal_tiny
from seesall.world import ACTIONS, WorldConfig


def changed_outputs(video: torch.Tensor, net: torch.nn.Module) -> list[torch.Tensor]:
    """uint8 clip Tensor[T, 3, H, W] -> per causal block, Tensor[T, 1, h, w]: 1 where the block's
    output at frame t differs from its output at t - 1 (frame 0: everywhere)."""
    x = torch.zeros(video.shape[0], 1, *video.shape[-2:])
    x[1:] = (video[1:] != video[:-1]).any(dim=1, keepdim=True).float()
    x[0] = 1.0
    out = []
    for block in net.blocks:
        conv = block.conv.conv
        k, s, d = conv.kernel_size[1], conv.stride[1], conv.dilation[0]
        # the frames the time kernel reads: t, t - d, ..., (before the clip: the padding, unchanged)
        reads = [torch.cat([torch.zeros_like(x[: j * d]), x[: len(x) - j * d]])
                 for j in range(conv.kernel_size[0])]
        x = F.max_pool2d(torch.stack(reads).amax(dim=0), k, stride=s, padding=k // 2)
        out.append(x)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--rate", type=int, default=1, help="clips at this x the frame rate (action.py's at_rate)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--clip-length", type=int, default=8)
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    cfg = WorldConfig(size=(args.size, args.size), clip_length=args.clip_length, num_objects=(1, 3))
    if args.rate > 1:
        cfg = at_rate(cfg, args.rate)
    video = render_clips(cfg, range(TEST_SEED, TEST_SEED + args.clips), args.cache, "farneback")["video"]
    net = causal_tiny(num_classes=len(ACTIONS), motion=True)
    macs = [b.conv.conv.weight.numel() for b in net.blocks]  # per output position
    needed, total = [0.0] * len(macs), [0.0] * len(macs)
    for clip in video:
        for i, changed in enumerate(changed_outputs(clip, net)):
            positions = changed[1:].numel()
            total[i] += macs[i] * positions
            needed[i] += macs[i] * float(changed[1:].sum())
    layers = [{"block": i + 1, "needed_%": 100 * n / t, "share_of_macs_%": 100 * t / sum(total)}
              for i, (n, t) in enumerate(zip(needed, total, strict=True))]
    result = {"clips": args.clips, "rate": args.rate, "clip_length": cfg.clip_length,
              "needed_%": 100 * sum(needed) / sum(total), "layers": layers}
    lines = [f"# Recomputing only changed outputs: the causal net's multiply-adds left ({args.clips} "
             f"held-out clips, {args.size}x{args.size}, T={cfg.clip_length}, x{args.rate} frame rate)", "",
             "Frames 1..T-1; an output is recomputed where its input changed at a frame its time kernel "
             "reads, within its spatial window (exact).", "",
             "| block | share of the net's multiply-adds % | left to compute % |", "|---|---|---|"]
    lines += [f"| {r['block']} | {r['share_of_macs_%']:.1f} | {r['needed_%']:.1f} |" for r in layers]
    lines += [f"| all | 100 | **{result['needed_%']:.1f}** |", ""]
    write_results(args.out, "blink_sparsity" + (f"_x{args.rate}" if args.rate > 1 else ""), result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
