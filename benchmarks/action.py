"""Action recognition on world clips: per-frame 2D vs 3D vs SlowFast vs two-stream (+ causal).

    .venv/bin/python benchmarks/action.py [--steps 300 --train-clips 720 --test-clips 270]

Two clip sets, each with its own train / held-out split:
* "textured": the default world (the actor is visible in every frame);
* "kinematogram": every object wears the background's random dots, so it is
  visible only through its motion (a single frame holds no information).
Every model is trained for the same number of steps on each set. Also measured:
the causal 3D CNN's streaming latency per frame vs offline per clip / T, and the
blink knob (frames skipped vs top-1). Writes benchmarks/results/action.{json,md}
and action.png.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import cv2
import torch

from seesall.io.atomic import write_json, write_text
from seesall.tasks.video.blink import BlinkStream
from seesall.tasks.video.data import clip_flows
from seesall.tasks.video.models import MODELS, normalize_video
from seesall.tasks.video.train import evaluate_clips, fit, forward_batch
from seesall.viz.layout import clip_strip, grid, save_png, titled
from seesall.world import ACTIONS, WorldConfig, render_clip

TRAIN_SEED, TEST_SEED = 20_000, 800_000
RESULTS = Path(__file__).parent / "results"


def _render(args: tuple[WorldConfig, int]) -> tuple[torch.Tensor, int]:
    scene = render_clip(*args)
    return scene.video.as_subclass(torch.Tensor), int(scene.action)


def render_clips(cfg: WorldConfig, seeds: range, workers: int, cache: Path) -> dict[str, torch.Tensor]:
    """{"video": uint8 [N, T, 3, H, W], "labels": [N], "flow": float16 [N, 2, T - 1, H, W] (DIS)}."""
    tag = "kin" if cfg.kinematogram else "tex"
    path = cache / f"clips_{tag}_{cfg.size[0]}_{cfg.clip_length}_{seeds.start}_{len(seeds)}.pt"
    if path.exists():
        return torch.load(path)
    jobs = [(cfg, s) for s in seeds]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_render, jobs, chunksize=8)
    video = torch.stack([v for v, _ in parts])
    flow = torch.stack([clip_flows(v) for v in video]).half()
    out = {"video": video, "labels": torch.tensor([a for _, a in parts]), "flow": flow}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def batches(data: dict[str, torch.Tensor], batch: int, seed: int):
    """Endless random batches."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        idx = torch.randint(0, len(data["labels"]), (batch,), generator=gen)
        yield {k: (v[idx].float() if k == "flow" else v[idx]) for k, v in data.items()}


def in_order(data: dict[str, torch.Tensor], batch: int):
    for i in range(0, len(data["labels"]), batch):
        yield {k: (v[i : i + batch].float() if k == "flow" else v[i : i + batch]) for k, v in data.items()}


@torch.no_grad()
def streaming_numbers(model: torch.nn.Module, data: dict[str, torch.Tensor], n: int = 30) -> dict:
    """Causal net: per-frame ``step`` latency vs offline forward per clip / T (batch 1)."""
    net = model.net.eval()
    step_ms, offline_ms, diffs = [], [], []
    for i in range(min(n, len(data["labels"]))):
        x = normalize_video(data["video"][i : i + 1])  # (1, 3, T, H, W)
        t0 = time.perf_counter()
        offline = net(x)
        offline_ms.append(1000 * (time.perf_counter() - t0) / x.shape[2])
        state, outs = net.init_state(x[:, :, 0]), []
        for t in range(x.shape[2]):
            t0 = time.perf_counter()
            y, state = net.step(x[:, :, t], state)
            step_ms.append(1000 * (time.perf_counter() - t0))
            outs.append(y)
        diffs.append(float((torch.stack(outs, 1) - offline).abs().max()))
    return {"stream_ms_per_frame": statistics.median(step_ms),
            "offline_ms_per_clip_over_T": statistics.median(offline_ms),
            "max_abs_diff_stream_vs_offline": max(diffs)}


@torch.no_grad()
def blink_sweep(model: torch.nn.Module, data: dict[str, torch.Tensor], thresholds: list[float]) -> list:
    """For each threshold: fraction of frames skipped and top-1 of the clip-mean logits."""
    rows = []
    for th in thresholds:
        stream = BlinkStream(net=model.net, threshold=th)
        correct, skipped = 0, []
        for i in range(len(data["labels"])):
            video = data["video"][i]
            res = stream.run(video, normalize_video(video[None])[0])
            correct += int(res.clip_logits.argmax()) == int(data["labels"][i])
            skipped.append(res.skipped_fraction)
        rows.append({"threshold": th, "skipped_%": 100 * statistics.mean(skipped),
                     "top1": 100 * correct / len(data["labels"])})
    return rows


def run_set(name: str, cfg: WorldConfig, models: list[str], args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    train = render_clips(cfg, range(TRAIN_SEED, TRAIN_SEED + args.train_clips), args.workers, args.cache)
    test = render_clips(cfg, range(TEST_SEED, TEST_SEED + args.test_clips), args.workers, args.cache)
    print(f"[{name}] rendered in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    out: dict = {"models": {}}
    trained = {}
    for m in models:
        torch.manual_seed(0)
        model = MODELS[m](num_classes=len(ACTIONS), clip_length=cfg.clip_length)
        info = fit(model, batches(train, args.batch, seed=1), steps=args.steps, lr=args.lr)
        res = evaluate_clips(model, in_order(test, 1), class_names=ACTIONS)
        res.update(info)
        out["models"][m] = res
        trained[m] = model
        print(f"[{name}] {m}: top1 {res['top1']:.1f} top5 {res['top5']:.1f} "
              f"({info['train_seconds']:.0f}s)", file=sys.stderr, flush=True)
    if "causal3d" in trained:
        out["streaming"] = streaming_numbers(trained["causal3d"], test)
        out["blink"] = blink_sweep(trained["causal3d"], test, args.blink_thresholds)
    return {"result": out, "trained": trained, "test": test}


def picture(sets: dict[str, dict], path: Path) -> None:
    """Three held-out clips per set, titled with the true class and each model's prediction."""
    rows = []
    for name, s in sets.items():
        test = s["test"]
        for i in range(3):
            batch = {k: (v[i : i + 1].float() if k == "flow" else v[i : i + 1]) for k, v in test.items()}
            preds = []
            for m, model in s["trained"].items():
                with torch.no_grad():
                    preds.append(f"{m}={ACTIONS[int(forward_batch(model.eval(), batch).argmax())]}")
            title = f"{name} | true={ACTIONS[int(test['labels'][i])]} | " + " ".join(preds)
            big = torch.nn.functional.interpolate(test["video"][i].float(), scale_factor=2, mode="nearest")
            rows.append(titled(clip_strip(big.to(torch.uint8)), title))
    save_png(grid(rows, ncols=1), path)


def report(results: dict, args: argparse.Namespace) -> None:
    lines = [f"# Action recognition on world clips ({args.size}x{args.size}, T={args.clip_length}, "
             f"{len(ACTIONS)} classes, chance 11.1 %)", "",
             f"{args.steps} steps x batch {args.batch} per model, {args.train_clips} train / "
             f"{args.test_clips} held-out clips per set; ms per clip at batch 1, 1 thread.", ""]
    for name, res in results.items():
        lines += [f"## {name}", "", "| model | top-1 % | top-5 % | ms/clip | train s |", "|---|---|---|---|---|"]
        for m, r in res["models"].items():
            lines.append(f"| {m} | {r['top1']:.1f} | {r['top5']:.1f} | {r['ms_per_clip']:.1f} | "
                         f"{r['train_seconds']:.0f} |")
        lines += ["", "Per-class top-1 %:", ""]
        lines += [f"- {m}: " + ", ".join(f"{a} {r[f'top1/{a}']:.0f}" for a in ACTIONS if f"top1/{a}" in r)
                  for m, r in res["models"].items()]
        if "streaming" in res:
            s = res["streaming"]
            lines += ["", f"Streaming causal3d: {s['stream_ms_per_frame']:.2f} ms per frame (step) vs "
                      f"{s['offline_ms_per_clip_over_T']:.2f} ms offline per clip / T; max |stream - offline| "
                      f"= {s['max_abs_diff_stream_vs_offline']:.2e}", "",
                      "| blink threshold | frames skipped % | top-1 % |", "|---|---|---|"]
            lines += [f"| {b['threshold']} | {b['skipped_%']:.1f} | {b['top1']:.1f} |" for b in res["blink"]]
        lines.append("")
    write_text(args.out / "action.md", "\n".join(lines))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--clip-length", type=int, default=8)
    p.add_argument("--train-clips", type=int, default=360)
    p.add_argument("--test-clips", type=int, default=180)
    p.add_argument("--models", nargs="+", default=["per_frame_2d", "r3d", "slowfast", "two_stream", "causal3d"])
    p.add_argument("--kinematogram-models", nargs="+", default=["per_frame_2d", "r3d", "two_stream"])
    p.add_argument("--blink-thresholds", nargs="+", type=float, default=[0.0, 0.002, 0.005, 0.01, 0.02, 0.04])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    base = dict(size=(args.size, args.size), clip_length=args.clip_length, num_objects=(1, 3))
    sets = {
        "textured": run_set("textured", WorldConfig(**base), args.models, args),
        "kinematogram": run_set("kinematogram", WorldConfig(**base, kinematogram=True),
                                args.kinematogram_models, args),
    }
    results = {k: v["result"] for k, v in sets.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "action.json", {"config": {k: str(v) if isinstance(v, Path) else v
                                                     for k, v in vars(args).items()},
                                          "actions": list(ACTIONS), "sets": results}, indent=2)
    report(results, args)
    picture(sets, args.out / "action.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
