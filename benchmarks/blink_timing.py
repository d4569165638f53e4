"""Why a change threshold does not find the redundant frames of an always-moving stream.

    .venv/bin/python benchmarks/blink_timing.py [--cpu-budget 120 | --steps 443] [--clips 405]

The held-out world clips at the native frame rate and at twice it (``action.py``'s ``at_rate``:
the same scenes, twice the frames, so every other frame of a x2 stream is redundant). Two
measurements:

1. **What a frame's change says.** ``frame_change`` (local max and global mean) between
   consecutive frames, as each clip's median: its spread over the clips, the factor the frame
   rate changes it by (clip by clip, the same scenes), and how well one threshold on that median
   tells a x2 stream from a native one (the best balanced accuracy over all thresholds; 50 % is
   chance).
2. **How the net takes uneven timing.** ``causal3d_motion`` trained at the native rate for
   ``--cpu-budget`` CPU seconds (or ``--steps`` steps), run on the x2 streams under skip patterns of known gaps: every
   2nd and 3rd frame, random gaps drawn from a set (content-blind but uneven), and the threshold
   rule's own patterns (``blink_keep``) with the histogram of their gaps.

Writes benchmarks/results/blink_timing.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import torch
from action import (
    RESULTS,
    TEST_SEED,
    TRAIN_SEED,
    at_rate,
    keep_top1,
    model_steps,
    render_clips,
    train_model,
    write_results,
)
from action import parse_args as action_args

from seesall.tasks.video.blink import blink_keep, grey_cells, uniform_keep
from seesall.world import ACTIONS, WorldConfig

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
GAP_SETS = ((2, 3), (1, 2, 3), (1, 3), (2, 4))


def median_change(video: torch.Tensor) -> dict[str, torch.Tensor]:
    """uint8 clips Tensor[N, T, 3, H, W] -> per clip, the median over consecutive frame pairs of
    ``frame_change`` with reduce "max" and "mean": {reduce: Tensor[N]}."""
    cells = grey_cells(video.float() / 255.0)  # (N, T, h, w)
    diff = (cells[:, 1:] - cells[:, :-1]).abs()
    return {"max": diff.amax(dim=(2, 3)).median(dim=1).values,
            "mean": diff.mean(dim=(2, 3)).median(dim=1).values}


def best_split(low: torch.Tensor, high: torch.Tensor) -> float:
    """The best balanced accuracy % of calling a clip "low" when its value is below a threshold."""
    best = 50.0
    for t in torch.cat([low, high]).unique():
        acc = 50 * (float((low < t).float().mean()) + float((high >= t).float().mean()))
        best = max(best, acc)
    return best


def random_gaps(length: int, gaps: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Kept frame indices from 0, each next one a gap drawn uniformly from ``gaps`` later."""
    keep = [0]
    while (nxt := keep[-1] + gaps[int(torch.randint(len(gaps), (1,), generator=gen))]) < length:
        keep.append(nxt)
    return torch.tensor(keep)


def _joined(values: list[float], digits: int) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values)


def pattern_row(net, clips, labels, keeps, name: str) -> dict:
    frames = sum(c.shape[0] for c in clips)
    gaps = collections.Counter(int(g) for k in keeps for g in k.diff())
    return {"pattern": name, "skipped_%": 100 * (1 - sum(len(k) for k in keeps) / frames),
            "top1": keep_top1(net, clips, labels, keeps), "gaps": dict(sorted(gaps.items()))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-budget", type=float, default=120.0, help="training CPU seconds (steps timed first)")
    p.add_argument("--steps", type=int, default=0, help="training steps instead of a CPU budget (0: the budget)")
    p.add_argument("--clips", type=int, default=405, help="held-out clips")
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.05, 0.07, 0.1])
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train_args = action_args(["--cpu-budget", str(args.cpu_budget), "--cache", str(args.cache)])
    cfg = WorldConfig(size=(train_args.size, train_args.size), clip_length=train_args.clip_length,
                      num_objects=(1, train_args.max_objects))
    seeds = range(TEST_SEED, TEST_SEED + args.clips)
    native = render_clips(cfg, seeds, args.cache, train_args.flow)
    x2 = render_clips(at_rate(cfg, 2), seeds, args.cache, train_args.flow)["video"]

    change = {}
    native_med, x2_med = median_change(native["video"]), median_change(x2)
    for reduce in ("max", "mean"):
        q = torch.tensor(QUANTILES)
        change[reduce] = {
            "native_quantiles": torch.quantile(native_med[reduce], q).tolist(),
            "x2_quantiles": torch.quantile(x2_med[reduce], q).tolist(),
            "x2_over_native_quantiles": torch.quantile(x2_med[reduce] / native_med[reduce].clamp_min(1e-9), q).tolist(),
            "best_balanced_accuracy_%": best_split(x2_med[reduce], native_med[reduce]),
        }

    train = render_clips(cfg, range(TRAIN_SEED, TRAIN_SEED + train_args.train_clips), args.cache, train_args.flow)
    steps = args.steps or model_steps("causal3d_motion", train, ACTIONS, train_args)
    model, res = train_model("causal3d_motion", train, native, ACTIONS, steps, train_args)
    net, labels, clips = model.net.eval(), native["labels"], list(x2)
    length = x2.shape[1]
    gen = torch.Generator().manual_seed(0)
    rows = [pattern_row(net, clips, labels, [torch.arange(length)] * len(clips), "every frame")]
    rows += [pattern_row(net, clips, labels, [uniform_keep(length, s)] * len(clips), f"every {nth} frame")
             for s, nth in ((2, "2nd"), (3, "3rd"))]
    rows += [pattern_row(net, clips, labels, [random_gaps(length, g, gen) for _ in clips],
                         "random gaps from {" + ", ".join(map(str, g)) + "}") for g in GAP_SETS]
    rows += [pattern_row(net, clips, labels, [blink_keep(c, t, max_skip=m) for c in clips],
                         f"local {t:g}" + (f", <= {m} in a row" if m else ""))
             for m in (None, 3) for t in args.thresholds]

    budget = "" if args.steps else f"{args.cpu_budget:g} CPU s, "
    result = {"clips": args.clips, "cpu_budget": args.cpu_budget, "steps": steps,
              "native_top1": res["top1"], "change": change, "x2_patterns": rows}
    lines = [f"# Frame timing and the change threshold ({args.clips} held-out clips, native and x2 frame rate)", "",
             "Per clip, the median change between consecutive frames (`frame_change`); quantiles "
             f"{', '.join(f'{q:g}' for q in QUANTILES)} over the clips:", "",
             "| measure | native | x2 | x2 / native, same clip | one threshold tells x2 from native % |",
             "|---|---|---|---|---|"]
    for reduce, c in change.items():
        d = 3 if reduce == "max" else 4
        lines.append(f"| {'local max' if reduce == 'max' else 'global mean'} | {_joined(c['native_quantiles'], d)} | "
                     f"{_joined(c['x2_quantiles'], d)} | {_joined(c['x2_over_native_quantiles'], 2)} | "
                     f"{c['best_balanced_accuracy_%']:.1f} |")
    lines += ["", f"causal3d_motion trained at the native rate ({budget}{steps} steps): "
              f"{res['top1']:.1f} % on every frame of the native clips. On the x2 streams:", "",
              "| frames processed | skipped % | top-1 % | vs native clips | gaps (gap: count) |",
              "|---|---|---|---|---|"]
    for r in rows:
        gaps = ", ".join(f"{g}: {n}" for g, n in list(r["gaps"].items())[:6])
        more = " ..." if len(r["gaps"]) > 6 else ""
        lines.append(f"| {r['pattern']} | {r['skipped_%']:.1f} | {r['top1']:.1f} | "
                     f"{r['top1'] - res['top1']:+.1f} | {gaps}{more} |")
    lines.append("")
    write_results(args.out, "blink_timing", result, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
