"""Action recognition on world clips: per-frame 2D vs 3D vs SlowFast vs two-stream (+ causal).

    .venv/bin/python benchmarks/action.py [--steps 300 --steps-3d 300 --train-clips 1440]

Three clip sets, each with its own train / held-out split:
* "textured": the default world (the actor is visible in every frame);
* "kinematogram": every object wears the background's random dots, so it is
  visible only through its motion (a single frame holds no information);
* "counting": k in 1..4 identical discs overlapping in frame 0 that stay still
  or part on their own paths (``seesall.tasks.video.counting``); a model on the
  first frame vs a model on the clip, top-1 reported for static and moving clips.
Every model of a set is trained for the same number of steps (flags). Also
measured: the causal 3D CNN's streaming latency per frame vs offline per clip /
T, and the blink knob (frames skipped vs top-1). Writes
benchmarks/results/action.{json,md} and action.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import torch

from seesall.io.atomic import write_json, write_text
from seesall.tasks.video.blink import BlinkStream
from seesall.tasks.video.counting import COUNT_CLASSES, CountingConfig, counting_set
from seesall.tasks.video.data import clip_flows
from seesall.tasks.video.models import MODELS, normalize_video
from seesall.tasks.video.train import evaluate_clips, fit, forward_batch
from seesall.viz.layout import clip_strip, grid, save_png, titled
from seesall.world import ACTIONS, WorldConfig, render_clip

TRAIN_SEED, TEST_SEED = 20_000, 800_000
RESULTS = Path(__file__).parent / "results"


def render_clips(cfg: WorldConfig, seeds: range, cache: Path) -> dict[str, torch.Tensor]:
    """{"video": uint8 [N, T, 3, H, W], "labels": [N], "flow": float16 [N, 2, T - 1, H, W] (DIS)},
    rendered in this process (about 20 ms of CPU per 64 px clip, flow included)."""
    tag = "kin" if cfg.kinematogram else "tex"
    lo, hi = cfg.num_objects
    path = cache / f"clips_{tag}_{cfg.size[0]}_{cfg.clip_length}_o{lo}{hi}_{seeds.start}_{len(seeds)}.pt"
    if path.exists():
        return torch.load(path)
    scenes = [render_clip(cfg, s) for s in seeds]
    video = torch.stack([s.video.as_subclass(torch.Tensor) for s in scenes])
    flow = torch.stack([clip_flows(v) for v in video]).half()
    out = {"video": video, "labels": torch.tensor([int(s.action) for s in scenes]), "flow": flow}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def batches(data: dict[str, torch.Tensor], batch: int, seed: int):
    """Endless random batches."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        idx = torch.randint(0, len(data["labels"]), (batch,), generator=gen)
        yield {k: (v[idx].float() if k == "flow" else v[idx]) for k, v in data.items() if k != "moving"}


def in_order(data: dict[str, torch.Tensor], batch: int):
    for i in range(0, len(data["labels"]), batch):
        yield {k: (v[i : i + batch].float() if k == "flow" else v[i : i + batch])
               for k, v in data.items() if k != "moving"}


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


def train_model(name: str, train: dict, test: dict, classes: tuple[str, ...], steps: int,
                args: argparse.Namespace) -> tuple[torch.nn.Module, dict]:
    """Train ``MODELS[name]`` from seed 0 for ``steps`` steps; held-out top-1/top-5 and timing."""
    torch.manual_seed(0)
    model = MODELS[name](num_classes=len(classes), clip_length=args.clip_length)
    info = fit(model, batches(train, args.batch, seed=1), steps=steps, lr=args.lr)
    res = evaluate_clips(model, in_order(test, 1), class_names=classes)
    res.update(info, steps=steps)
    return model, res


def run_set(name: str, cfg: WorldConfig, models: list[str], args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    train = render_clips(cfg, range(TRAIN_SEED, TRAIN_SEED + args.train_clips), args.cache)
    test = render_clips(cfg, range(TEST_SEED, TEST_SEED + args.test_clips), args.cache)
    print(f"[{name}] rendered in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    out: dict = {"models": {}}
    trained = {}
    for m in models:
        steps = args.steps_3d if m in THREE_D else args.steps
        trained[m], res = train_model(m, train, test, ACTIONS, steps, args)
        out["models"][m] = res
        print(f"[{name}] {m}: top1 {res['top1']:.1f} top5 {res['top5']:.1f} "
              f"({res['train_seconds']:.0f}s)", file=sys.stderr, flush=True)
    causal = [m for m in trained if m.startswith("causal3d")]
    if causal:  # the last causal model listed
        out["streaming"] = streaming_numbers(trained[causal[-1]], test)
        out["streaming"]["model"] = causal[-1]
        out["blink"] = blink_sweep(trained[causal[-1]], test, args.blink_thresholds)
    return {"result": out, "trained": trained, "test": test, "classes": ACTIONS}


def run_counting(models: list[str], args: argparse.Namespace) -> dict:
    """Counting overlapping discs: top-1 on static and on moving held-out clips, per model."""
    cfg = CountingConfig(size=(args.size, args.size), clip_length=args.clip_length)
    train = counting_set(cfg, range(TRAIN_SEED, TRAIN_SEED + args.counting_train))
    test = counting_set(cfg, range(TEST_SEED, TEST_SEED + args.counting_test))
    out: dict = {"models": {}}
    trained = {}
    for m in models:
        steps = args.steps_3d if m in THREE_D else args.steps
        trained[m], res = train_model(m, train, test, COUNT_CLASSES, steps, args)
        for kind, sel in (("static", ~test["moving"]), ("moving", test["moving"])):
            part = {k: v[sel] for k, v in test.items()}
            r = evaluate_clips(trained[m], in_order(part, 1), class_names=COUNT_CLASSES)
            res[f"top1_{kind}"] = r["top1"]
        out["models"][m] = res
        print(f"[counting] {m}: static {res['top1_static']:.1f} moving {res['top1_moving']:.1f}",
              file=sys.stderr, flush=True)
    return {"result": out, "trained": trained, "test": test, "classes": COUNT_CLASSES}


def picture(sets: dict[str, dict], path: Path) -> None:
    """Three held-out clips per set, titled with the true class and each model's prediction."""
    rows = []
    for name, s in sets.items():
        test, classes = s["test"], s["classes"]
        picks = [0, 1, 2] if name != "counting" else [1, 6, 7]  # counting: static 2, moving 3, 4
        for i in picks:
            batch = {k: (v[i : i + 1].float() if k == "flow" else v[i : i + 1])
                     for k, v in test.items() if k != "moving"}
            preds = []
            for m, model in s["trained"].items():
                with torch.no_grad():
                    preds.append(f"{m}={classes[int(forward_batch(model.eval(), batch).argmax())]}")
            title = f"{name} | true={classes[int(test['labels'][i])]} | " + " ".join(preds)
            big = torch.nn.functional.interpolate(test["video"][i].float(), scale_factor=2, mode="nearest")
            rows.append(titled(clip_strip(big.to(torch.uint8)), title))
    save_png(grid(rows, ncols=1), path)


def _model_table(res: dict, classes: tuple[str, ...]) -> list[str]:
    lines = ["| model | steps | top-1 % | top-5 % | ms/clip | train s (wall) | train s (CPU) |",
             "|---|---|---|---|---|---|---|"]
    for m, r in res["models"].items():
        lines.append(f"| {m} | {r['steps']} | {r['top1']:.1f} | {r['top5']:.1f} | "
                     f"{r['ms_per_clip']:.1f} | {r['train_seconds']:.0f} | {r['train_cpu_seconds']:.0f} |")
    lines += ["", "Per-class top-1 %:", ""]
    lines += [f"- {m}: " + ", ".join(f"{a} {r[f'top1/{a}']:.0f}" for a in classes if f"top1/{a}" in r)
              for m, r in res["models"].items()]
    return lines


def _stream_lines(res: dict) -> list[str]:
    s = res["streaming"]
    lines = ["", f"Streaming {s['model']}: {s['stream_ms_per_frame']:.2f} ms per frame (step) vs "
             f"{s['offline_ms_per_clip_over_T']:.2f} ms offline per clip / T; max |stream - offline| "
             f"= {s['max_abs_diff_stream_vs_offline']:.2e}", "",
             "| blink threshold | frames skipped % | top-1 % |", "|---|---|---|"]
    return lines + [f"| {b['threshold']} | {b['skipped_%']:.1f} | {b['top1']:.1f} |" for b in res["blink"]]


def report(results: dict, args: argparse.Namespace, seconds: float) -> None:
    lines = [f"# Action recognition on world clips ({args.size}x{args.size}, T={args.clip_length}, "
             f"{len(ACTIONS)} classes, chance 11.1 %)", "",
             f"Per model: {args.steps_3d} steps (3D / SlowFast / causal) or {args.steps} steps (2D, "
             f"two-stream) x batch {args.batch}, AdamW lr {args.lr} cosine; {args.train_clips} train / "
             f"{args.test_clips} held-out clips per set; ms per clip at batch 1, 1 thread. "
             f"Whole run {seconds / 60:.0f} min.", ""]
    for name, res in results.items():
        if name == "counting":
            continue
        lines += [f"## {name}", ""] + _model_table(res, ACTIONS)
        if "streaming" in res:
            lines += _stream_lines(res)
        lines.append("")
    if "counting" in results:
        lines += ["## counting overlapping objects (4 classes, chance 25 %)", "",
                  f"{args.counting_train} train / {args.counting_test} held-out clips, half static, "
                  "half moving.", "", "| model | top-1 static % | top-1 moving % | top-1 all % |",
                  "|---|---|---|---|"]
        lines += [f"| {m} | {r['top1_static']:.1f} | {r['top1_moving']:.1f} | {r['top1']:.1f} |"
                  for m, r in results["counting"]["models"].items()]
        lines.append("")
    write_text(args.out / "action.md", "\n".join(lines))
    print("\n".join(lines))


THREE_D = {"c3d", "r3d", "slowfast", "causal3d", "i3d", "r3d_motion", "slowfast_motion",
           "causal3d_motion"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help="steps of 2D and two-stream models")
    p.add_argument("--steps-3d", type=int, default=100, help="steps of 3D, SlowFast, causal models")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--clip-length", type=int, default=8)
    p.add_argument("--max-objects", type=int, default=3, help="most distractors per action clip")
    p.add_argument("--train-clips", type=int, default=960)
    p.add_argument("--test-clips", type=int, default=135)
    p.add_argument("--models", nargs="*", default=["per_frame_2d", "r3d", "r3d_motion", "slowfast_motion",
                                                   "two_stream", "causal3d_motion"])
    p.add_argument("--kinematogram-models", nargs="*", default=["per_frame_2d", "r3d_motion", "two_stream"])
    p.add_argument("--counting-models", nargs="*", default=["single_frame", "r3d_motion"])
    p.add_argument("--counting-train", type=int, default=480)
    p.add_argument("--counting-test", type=int, default=160)
    p.add_argument("--blink-thresholds", nargs="+", type=float, default=[0.0, 0.005, 0.01, 0.02])
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    start = time.perf_counter()
    base = dict(size=(args.size, args.size), clip_length=args.clip_length, num_objects=(1, args.max_objects))
    sets = {}
    if args.models:
        sets["textured"] = run_set("textured", WorldConfig(**base), args.models, args)
    if args.kinematogram_models:
        sets["kinematogram"] = run_set("kinematogram", WorldConfig(**base, kinematogram=True),
                                       args.kinematogram_models, args)
    if args.counting_models:
        sets["counting"] = run_counting(args.counting_models, args)
    results = {k: v["result"] for k, v in sets.items()}
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "action.json", {"config": {k: str(v) if isinstance(v, Path) else v
                                                     for k, v in vars(args).items()},
                                          "actions": list(ACTIONS), "seconds": seconds,
                                          "sets": results}, indent=2)
    report(results, args, seconds)
    picture(sets, args.out / "action.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
