"""Cheapening frames: what ``DeltaStream`` saves of the causal net's multiply-adds, and what it costs.

    .venv/bin/python benchmarks/blink_delta.py [--steps 600 --thresholds 0 0.02 0.05 0.1 0.2]

causal3d_motion (time padded with zeros) and causal3d_motion_static (padded with the first
frame) are trained at the native rate for ``--steps`` steps each (``action.py``'s training), then
streamed with ``DeltaStream`` at each threshold over the held-out clips as rendered (the actor
moves in every frame) and with sensor noise (uniform in +-``--noise`` grey levels on every
frame, so that every pixel changes); with ``--rate 2`` both are trained and streamed at twice the
frame rate. Reported: top-1 of the mean per-frame logits, and the convs'
multiply-adds spent against ``step`` on every frame (all frames, the first included; and
frames after the first), plus the median ms per frame of ``step`` and of ``DeltaStream.step``
(batch 1, 1 thread). Writes benchmarks/results/<--tag>.{json,md} (blink_delta by default).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from action import RESULTS, TEST_SEED, TRAIN_SEED, at_rate, render_clips, train_model, write_results
from action import parse_args as action_args

from seesall.nn.video import CausalVideoNet
from seesall.tasks.video.delta import DeltaStream
from seesall.tasks.video.models import normalize_video
from seesall.world import ACTIONS, WorldConfig

MODELS = ("causal3d_motion", "causal3d_motion_static")


@torch.no_grad()
def sweep(net: CausalVideoNet, video: torch.Tensor, labels: torch.Tensor, threshold: float,
          batch: int = 45) -> dict:
    """Top-1 % and multiply-adds % of ``DeltaStream`` over uint8 clips Tensor[N, T, 3, H, W]."""
    stream = DeltaStream(net=net, threshold=threshold)
    correct, macs, first = 0, 0.0, 0.0
    for i in range(0, len(video), batch):
        res = stream.run(normalize_video(video[i : i + batch]))
        correct += int((res.clip_logits.argmax(1) == labels[i : i + batch]).sum())
        macs += float(res.macs.sum())
        first += float(res.frame_macs[:, 0].sum())
    dense = res.dense_macs * len(video)  # step costs the same on every frame of every clip
    first_dense = dense / video.shape[1]
    return {"threshold": threshold, "top1": 100 * correct / len(video), "macs_%": 100 * macs / dense,
            "macs_after_first_%": 100 * (macs - first) / (dense - first_dense)}


@torch.no_grad()
def step_times(net: CausalVideoNet, video: torch.Tensor, n: int = 20) -> dict[str, float]:
    """Median ms per frame of ``net.step`` and of ``DeltaStream.step`` (threshold 0), batch 1."""
    dense, delta = [], []
    stream = DeltaStream(net=net)
    for clip in video[:n]:
        x = normalize_video(clip[None])
        state, dstate = net.init_state(x[:, :, 0]), None
        for t in range(x.shape[2]):
            t0 = time.perf_counter()
            _, state = net.step(x[:, :, t], state)
            t1 = time.perf_counter()
            _, dstate, _ = stream.step(x[:, :, t], dstate)
            delta.append(1000 * (time.perf_counter() - t1))
            dense.append(1000 * (t1 - t0))
    return {"step_ms": statistics.median(dense), "delta_step_ms": statistics.median(delta)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600, help="training steps per model (the same for both)")
    p.add_argument("--noise", type=int, default=3, help="sensor noise of the noisy streams, grey levels")
    p.add_argument("--seed", type=int, default=0, help="torch seed of both models' initialisation")
    p.add_argument("--tag", default="blink_delta", help="name of the result files")
    p.add_argument("--rate", type=int, default=1,
                   help="train and stream the clips at this x the frame rate (action.py's at_rate)")
    p.add_argument("--clips", type=int, default=405, help="held-out clips")
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.0, 0.02, 0.05, 0.1, 0.2])
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train_args = action_args(["--cpu-budget", "0", "--cache", str(args.cache), "--seed", str(args.seed)])
    cfg = WorldConfig(size=(train_args.size, train_args.size), clip_length=train_args.clip_length,
                      num_objects=(1, train_args.max_objects))
    if args.rate > 1:
        cfg = at_rate(cfg, args.rate)
        train_args.clip_length = cfg.clip_length
    train = render_clips(cfg, range(TRAIN_SEED, TRAIN_SEED + train_args.train_clips), args.cache, train_args.flow)
    test = render_clips(cfg, range(TEST_SEED, TEST_SEED + args.clips), args.cache, train_args.flow)
    gen = torch.Generator().manual_seed(7)
    noise = torch.randint(-args.noise, args.noise + 1, (test["video"].shape[0], test["video"].shape[1], 1,
                                                       *test["video"].shape[-2:]), generator=gen)
    noisy = (test["video"].short() + noise).clamp(0, 255).to(torch.uint8)
    streams = {"clips": test["video"], f"clips, noise +-{args.noise}": noisy}
    results: dict = {"clips": args.clips, "steps": args.steps, "noise": args.noise, "seed": args.seed,
                     "rate": args.rate, "models": {}}
    for name in MODELS:
        model, res = train_model(name, train, test, ACTIONS, args.steps, train_args)
        net = model.net.eval()
        out = {"top1_offline": res["top1"], **step_times(net, test["video"])}
        out["streams"] = {s: [sweep(net, clips, test["labels"], th) for th in args.thresholds]
                          for s, clips in streams.items()}
        results["models"][name] = out
        print(f"{name}: {args.steps} steps, offline top-1 {res['top1']:.1f}", file=sys.stderr, flush=True)
    size, length = train_args.size, train_args.clip_length
    rate = "the native rate" if args.rate == 1 else f"{args.rate}x the native frame rate"
    lines = [f"# Cheapening frames with DeltaStream ({args.clips} held-out clips, {size}x{size}, T={length}, "
             f"x{args.rate} frame rate)", "",
             f"Each model trained {args.steps} steps at {rate} (initialisation seed {args.seed}). "
             "Multiply-adds are the causal convs', against `step` on every frame; \"after the first\" leaves "
             "out frame 0 (with a static start, a long stream's share). Top-1 of the mean per-frame logits; "
             "the difference is against the offline model on the clean clips, for the noisy streams too.", "",
             "| model | stream | threshold | top-1 % | vs offline | multiply-adds % | after the first % | saved % |",
             "|---|---|---|---|---|---|---|---|"]
    for name, out in results["models"].items():
        for s, rows in out["streams"].items():
            for r in rows:
                lines.append(f"| {name} | {s} | {r['threshold']:g} | {r['top1']:.1f} | "
                             f"{r['top1'] - out['top1_offline']:+.1f} | {r['macs_%']:.1f} | "
                             f"{r['macs_after_first_%']:.1f} | {100 - r['macs_%']:.1f} |")
    lines += ["", "Median ms per frame, batch 1, 1 thread (this implementation computes each change densely, so "
              "the multiply-adds it saves are not time saved):", "",
              "| model | step | DeltaStream.step |", "|---|---|---|"]
    lines += [f"| {n} | {o['step_ms']:.2f} | {o['delta_step_ms']:.2f} |" for n, o in results["models"].items()]
    lines.append("")
    write_results(args.out, args.tag, results, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
