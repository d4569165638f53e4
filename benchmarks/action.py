"""Action recognition on world clips: per-frame 2D vs 3D vs SlowFast vs two-stream (+ causal).

    .venv/bin/python benchmarks/action.py [--cpu-budget 120 | --cpu-budget 0 --steps-3d 300]

Three clip sets, each with its own train / held-out split:
* "textured": the default world (the actor is visible in every frame);
* "kinematogram": every object wears the background's random dots, so it is
  visible only through its motion (a single frame holds no information);
* "counting": k in 1..4 identical discs overlapping in frame 0 that stay still
  or part on their own paths (``seesall.tasks.video.counting``); a model on the
  first frame vs a model on the clip, top-1 reported for static and moving clips.
Every model is trained for the same CPU seconds (``--cpu-budget``; the steps
come from timing a few steps of each model, so cheaper models take more steps;
flows for two-stream are precomputed by OpenCV (``--flow``) and not counted; two-stream's
fusion weight is chosen on training clips held out of its training), or with
``--cpu-budget 0`` for fixed steps. Also measured: the causal 3D CNN's streaming
latency per frame vs offline per clip / T, and the blink knob (frames skipped
vs top-1, on the clips as rendered, as paused noisy streams and at 2x the frame rate). Writes
benchmarks/results/action.{json,md} and action.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import torch

from seesall.io.atomic import write_json, write_text
from seesall.tasks.flow.classical import CLASSICAL
from seesall.tasks.video.blink import blink_clip_logits, blink_keep, frame_change, uniform_keep
from seesall.tasks.video.counting import COUNT_CLASSES, CountingConfig, counting_set
from seesall.tasks.video.data import clip_flows
from seesall.tasks.video.models import MODELS, choose_fusion_weight, fuse_streams, normalize_video
from seesall.tasks.video.train import evaluate_clips, fit, forward_batch
from seesall.viz.layout import clip_strip, grid, save_png, titled
from seesall.world import ACTIONS, WorldConfig, render_clip

TRAIN_SEED, TEST_SEED = 20_000, 800_000
RESULTS = Path(__file__).parent / "results"


def render_clips(cfg: WorldConfig, seeds: range, cache: Path, flow: str = "dis_medium"
                 ) -> dict[str, torch.Tensor]:
    """{"video": uint8 [N, T, 3, H, W], "labels": [N], "flow": float16 [N, 2, T - 1, H, W]} with
    ``flow`` one of ``CLASSICAL`` (OpenCV), rendered in this process (about 20 ms of CPU per
    64 px clip, flow included)."""
    tag = "kin" if cfg.kinematogram else "tex"
    lo, hi = cfg.num_objects
    name = f"clips_{tag}_{cfg.size[0]}_{cfg.clip_length}_o{lo}{hi}_{seeds.start}_{len(seeds)}"
    if cfg.distractor_speed != WorldConfig.distractor_speed:
        name += f"_d{cfg.distractor_speed:g}"
    if cfg.distractor_turn != WorldConfig.distractor_turn:
        name += f"_r{cfg.distractor_turn:g}"
    path = cache / (name + ("" if flow == "dis_medium" else f"_{flow}") + ".pt")
    if path.exists():
        return torch.load(path)
    scenes = [render_clip(cfg, s) for s in seeds]
    video = torch.stack([s.video.as_subclass(torch.Tensor) for s in scenes])
    flows = torch.stack([clip_flows(v, CLASSICAL[flow]) for v in video]).half()
    out = {"video": video, "labels": torch.tensor([int(s.action) for s in scenes]), "flow": flows}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, path)
    return out


def write_results(out: Path, name: str, result: dict, lines: list[str]) -> None:
    """``out/name.json`` and the Markdown ``lines`` as ``out/name.md``; the table is also printed."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{name}.json", result, indent=2)
    write_text(out / f"{name}.md", "\n".join(lines))
    print("\n".join(lines))


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


def paused_streams(video: torch.Tensor, seed: int, noise: int = 3) -> list[torch.Tensor]:
    """Each clip as a stream where the actor pauses: every frame shown 1-3 times (random), and
    uniform sensor noise in [-noise, noise] grey levels on every shown frame (so repeats differ)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for clip in video:
        holds = torch.randint(1, 4, (clip.shape[0],), generator=gen)
        frames = clip.repeat_interleave(holds, dim=0).short()  # (sum holds, 3, H, W)
        frames += torch.randint(-noise, noise + 1, (frames.shape[0], 1, *frames.shape[2:]),
                                generator=gen, dtype=torch.int16)
        out.append(frames.clamp(0, 255).to(torch.uint8))
    return out


@torch.no_grad()
def keep_top1(net, clips: list[torch.Tensor], labels: torch.Tensor, keeps: list[torch.Tensor]) -> float:
    """Top-1 of ``blink_clip_logits`` (== the blink stream, see the tests), clips grouped by shape."""
    groups: dict[tuple, list[int]] = {}
    for i, (c, k) in enumerate(zip(clips, keeps, strict=True)):
        groups.setdefault((c.shape[0], len(k)), []).append(i)
    correct = 0
    for idx in groups.values():
        x = normalize_video(torch.stack([clips[i] for i in idx]))
        logits = blink_clip_logits(net, x, torch.stack([keeps[i] for i in idx]))
        correct += int((logits.argmax(1) == labels[idx]).sum())
    return 100 * correct / len(clips)


def blink_sweep(model: torch.nn.Module, streams: dict[str, list[torch.Tensor]], labels: torch.Tensor,
                thresholds: list[float], strides: list[int], global_thresholds: list[float],
                max_skips: list[int]) -> dict:
    """Frames skipped % and top-1 per setting (local measure thresholds, also with at most n frames
    skipped in a row for n in ``max_skips``, the global mean measure, content-blind strides) on
    each named set of streams (uint8 Tensor[T_i, 3, H, W] per clip)."""
    net = model.net.eval()
    settings = [("local max", th, None) for th in thresholds]
    settings += [(f"local max, <= {n} skipped in a row", th, n) for n in max_skips for th in thresholds if th]
    settings += [("global mean", th, None) for th in global_thresholds]
    out: dict = {"streams": {}}
    for set_name, clips in streams.items():
        rows = []
        for kind, th, max_skip in settings:
            reduce = "mean" if kind == "global mean" else "max"
            keeps = [blink_keep(c, th, reduce=reduce, max_skip=max_skip) for c in clips]
            rows.append(_blink_row(net, clips, labels, keeps, kind, th))
        for s in strides:
            keeps = [uniform_keep(c.shape[0], s) for c in clips]
            rows.append(_blink_row(net, clips, labels, keeps, "every n-th frame", s))
        out["streams"][set_name] = rows
    frame = next(iter(streams.values()))[0]
    t0 = time.process_time()
    for t in range(1, frame.shape[0]):
        frame_change(frame[t], frame[t - 1])
    out["measure_ms_per_frame"] = 1000 * (time.process_time() - t0) / (frame.shape[0] - 1)
    return out


def _blink_row(net, clips, labels, keeps, kind: str, value: float) -> dict:
    frames = sum(c.shape[0] for c in clips)
    skipped = 100 * (1 - sum(len(k) for k in keeps) / frames)
    return {"measure": kind, "value": value, "skipped_%": skipped,
            "top1": keep_top1(net, clips, labels, keeps)}


def steps_for_cpu_budget(name: str, train: dict, classes: tuple[str, ...], seconds: float,
                         args: argparse.Namespace) -> int:
    """Steps of ``MODELS[name]`` that fit ``seconds`` of CPU: a throwaway copy's CPU seconds for 4
    training steps after 2 warm-up steps."""
    torch.manual_seed(args.seed)
    model = MODELS[name](num_classes=len(classes), clip_length=args.clip_length)
    fit(model, batches(train, args.batch, seed=2), steps=2, lr=args.lr)
    per_step = fit(model, batches(train, args.batch, seed=3), steps=4, lr=args.lr)
    per_step = per_step["train_cpu_seconds"] / 4
    return max(1, round(seconds / per_step))


def model_steps(name: str, train: dict, classes: tuple[str, ...], args: argparse.Namespace) -> int:
    """The step budget of a model: from ``--cpu-budget`` when given, else ``--steps(-3d)``."""
    if args.cpu_budget:
        return steps_for_cpu_budget(name, train, classes, args.cpu_budget, args)
    return args.steps_3d if name in THREE_D else args.steps


def split_off(data: dict[str, torch.Tensor], n: int) -> tuple[dict, dict]:
    """(all but the last ``n`` clips, the last ``n`` clips)."""
    return {k: v[:-n] for k, v in data.items()}, {k: v[-n:] for k, v in data.items()}


@torch.no_grad()
def stream_logits(model: torch.nn.Module, data: dict[str, torch.Tensor]) -> torch.Tensor:
    """A two-stream model's per-stream logits Tensor[N, 2, K] on ``data`` (eval mode)."""
    model.eval()
    return torch.cat([model.stream_logits(normalize_video(b["video"]), b["flow"])
                      for b in in_order(data, 45)])


def fusion_numbers(model: torch.nn.Module, hold: dict, test: dict) -> dict:
    """Sets the fusion weight chosen on the held-out training clips ``hold``; each stream's
    held-out top-1 on ``test`` alone and the fused top-1 at equal weights, for the record."""
    weight = choose_fusion_weight(stream_logits(model, hold), hold["labels"], fusion=model.fusion)
    model.set_fusion_weight(weight)
    streams, labels = stream_logits(model, test), test["labels"]

    def top1(logits: torch.Tensor) -> float:
        return 100 * float((logits.argmax(1) == labels).float().mean())

    return {"fusion_weight": weight, "top1_spatial": top1(streams[:, 0]),
            "top1_temporal": top1(streams[:, 1]),
            "top1_equal_weights": top1(fuse_streams(streams, 0.5, model.fusion))}


def train_model(name: str, train: dict, test: dict, classes: tuple[str, ...], steps: int,
                args: argparse.Namespace) -> tuple[torch.nn.Module, dict]:
    """Train ``MODELS[name]`` from seed ``--seed`` for ``steps`` steps; held-out top-1/top-5 and timing.
    A two-stream model with per-stream losses trains on all but the last ``--fusion-holdout``
    training clips and its fusion weight is chosen on those (never on the test clips)."""
    torch.manual_seed(args.seed)
    model = MODELS[name](num_classes=len(classes), clip_length=args.clip_length)
    hold = None
    if getattr(model, "stream_losses", False) and args.fusion_holdout > 0:
        train, hold = split_off(train, args.fusion_holdout)
    info = fit(model, batches(train, args.batch, seed=1), steps=steps, lr=args.lr)
    fusion = fusion_numbers(model, hold, test) if hold is not None else {}
    res = evaluate_clips(model, in_order(test, 1), class_names=classes)
    res.update(info, **fusion, steps=steps)
    return model, res


def at_rate(cfg: WorldConfig, rate: int) -> WorldConfig:
    """The same clips at about ``rate`` x the frame rate: the actions span rate x T frames (T - 1
    intervals become rate x T - 1), the distractors drift and turn 1 / rate as far per frame."""
    return replace(cfg, clip_length=rate * cfg.clip_length,
                   distractor_speed=cfg.distractor_speed / rate,
                   distractor_turn=cfg.distractor_turn / rate)


def run_set(name: str, cfg: WorldConfig, models: list[str], args: argparse.Namespace, *,
            blink_rate: int = 1) -> dict:
    """Train and test ``models`` on ``cfg``'s clips; the blink sweep (causal models) also runs on
    the held-out clips rendered at ``blink_rate`` x the frame rate when it is > 1."""
    t0 = time.perf_counter()
    train = render_clips(cfg, range(TRAIN_SEED, TRAIN_SEED + args.train_clips), args.cache, args.flow)
    test = render_clips(cfg, range(args.test_seed, args.test_seed + args.test_clips), args.cache, args.flow)
    print(f"[{name}] rendered in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    out: dict = {"models": {}, "clip_length": cfg.clip_length}
    trained = {}
    for m in models:
        trained[m], res = train_model(m, train, test, ACTIONS, model_steps(m, train, ACTIONS, args),
                                      args)
        out["models"][m] = res
        print(f"[{name}] {m}: {res['steps']} steps top1 {res['top1']:.1f} top5 {res['top5']:.1f} "
              f"({res['train_seconds']:.0f}s)", file=sys.stderr, flush=True)
    causal = [m for m in trained if m.startswith("causal3d")]
    if causal:  # the last causal model listed
        out["streaming"] = streaming_numbers(trained[causal[-1]], test)
        out["streaming"]["model"] = causal[-1]
        streams = {"clips": list(test["video"]), "paused": paused_streams(test["video"], 7)}
        if blink_rate > 1:
            seeds = range(args.test_seed, args.test_seed + args.test_clips)
            streams[f"x{blink_rate} frame rate"] = list(
                render_clips(at_rate(cfg, blink_rate), seeds, args.cache, args.flow)["video"])
        out["blink"] = {m: blink_sweep(trained[m], streams, test["labels"], args.blink_thresholds,
                                       args.blink_strides, args.blink_global, args.blink_max_skip)
                        for m in causal}
    return {"result": out, "trained": trained, "test": test, "classes": ACTIONS}


def run_counting(models: list[str], args: argparse.Namespace) -> dict:
    """Counting overlapping discs: top-1 on static and on moving held-out clips, per model."""
    cfg = CountingConfig(size=(args.size, args.size), clip_length=args.clip_length)
    train = counting_set(cfg, range(TRAIN_SEED, TRAIN_SEED + args.counting_train))
    test = counting_set(cfg, range(args.test_seed, args.test_seed + args.counting_test))
    out: dict = {"models": {}}
    trained = {}
    for m in models:
        steps = model_steps(m, train, COUNT_CLASSES, args)
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
    lines += [f"\n{m}: fusion weight of the spatial stream {r['fusion_weight']:.1f} (chosen on "
              f"held-out training clips); spatial stream alone {r['top1_spatial']:.1f} %, temporal "
              f"stream alone {r['top1_temporal']:.1f} %, fused at equal weights "
              f"{r['top1_equal_weights']:.1f} %." for m, r in res["models"].items() if "fusion_weight" in r]
    lines += ["", "Per-class top-1 %:", ""]
    lines += [f"- {m}: " + ", ".join(f"{a} {r[f'top1/{a}']:.0f}" for a in classes if f"top1/{a}" in r)
              for m, r in res["models"].items()]
    return lines


def _stream_lines(res: dict) -> list[str]:
    s = res["streaming"]
    lines = ["", f"Streaming {s['model']}: {s['stream_ms_per_frame']:.2f} ms per frame (step) vs "
             f"{s['offline_ms_per_clip_over_T']:.2f} ms offline per clip / T; max |stream - offline| "
             f"= {s['max_abs_diff_stream_vs_offline']:.2e}.", ""]
    for m, b in res["blink"].items():
        lines += [f"Blink, {m} (the change measure costs {b['measure_ms_per_frame']:.3f} ms per frame):",
                  "", "| stream | measure | threshold / n | frames skipped % | top-1 % | vs this stream, "
                  "all frames | vs clips, all frames |", "|---|---|---|---|---|---|---|"]
        ref = b["streams"]["clips"][0]["top1"]
        for set_name, rows in b["streams"].items():
            base = rows[0]["top1"]
            lines += [f"| {set_name} | {r['measure']} | {r['value']} | {r['skipped_%']:.1f} | "
                      f"{r['top1']:.1f} | {r['top1'] - base:+.1f} | {r['top1'] - ref:+.1f} |"
                      for r in rows]
        lines.append("")
    return lines


def _budget(args: argparse.Namespace) -> str:
    if args.cpu_budget:
        return (f"{args.cpu_budget:.0f} CPU seconds of training (steps from timing 4 steps of each "
                "model, in the table)")
    return f"{args.steps_3d} steps (3D / SlowFast / causal / two_stream) or {args.steps} steps (2D, two_stream_2d)"


def report(results: dict, args: argparse.Namespace, seconds: float) -> None:
    lines = [f"# Action recognition on world clips ({args.size}x{args.size}, T={args.clip_length}, "
             f"{len(ACTIONS)} classes, chance 11.1 %)", "",
             f"Per model: {_budget(args)} x batch {args.batch}, AdamW lr {args.lr} cosine; "
             f"{args.train_clips} train / "
             f"{args.test_clips} held-out clips per set; ms per clip at batch 1, 1 thread. "
             f"Whole run {seconds / 60:.0f} min.", ""]
    for name, res in results.items():
        if name == "counting":
            continue
        lines += [f"## {name} (T={res['clip_length']})", ""] + _model_table(res, ACTIONS)
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
           "causal3d_motion", "causal3d_motion_skip", "causal3d_motion_blink",
           "causal3d_velocity_blink", "two_stream"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help="steps of 2D and two-stream models")
    p.add_argument("--steps-3d", type=int, default=100, help="steps of 3D, SlowFast, causal models")
    p.add_argument("--cpu-budget", type=float, default=120.0,
                   help="CPU seconds of training per model (steps from a timed calibration); "
                   "0 uses --steps / --steps-3d")
    p.add_argument("--seed", type=int, default=0, help="torch seed of every model's initialisation "
                   "(the batches' order is fixed)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--flow", choices=sorted(CLASSICAL), default="farneback",
                   help="OpenCV flow fed to two-stream (precomputed, not in the training budget)")
    p.add_argument("--fusion-holdout", type=int, default=96,
                   help="training clips held out of two-stream's training to choose its fusion "
                   "weight (0: equal weights, all clips trained on)")
    p.add_argument("--clip-length", type=int, default=8)
    p.add_argument("--max-objects", type=int, default=3, help="most distractors per action clip")
    p.add_argument("--train-clips", type=int, default=960)
    p.add_argument("--test-clips", type=int, default=405)
    p.add_argument("--test-seed", type=int, default=TEST_SEED,
                   help="first seed of the held-out clips (another range gives an independent clip set)")
    p.add_argument("--models", nargs="*", default=["per_frame_2d", "r3d_motion", "slowfast_motion",
                                                   "two_stream", "two_stream_2d",
                                                   "causal3d_motion", "causal3d_motion_skip"])
    p.add_argument("--kinematogram-models", nargs="*", default=["per_frame_2d", "r3d_motion", "two_stream"])
    p.add_argument("--rate", type=int, default=2,
                   help="blink also runs on the held-out clips rendered at this x the frame rate "
                   "(the same actions over rate x --clip-length frames: smooth streams, like real video's)")
    p.add_argument("--rate-models", nargs="*", default=[],
                   help="models trained and tested on clips at --rate x the frame rate (their own set)")
    p.add_argument("--counting-models", nargs="*", default=["single_frame", "r3d_motion"])
    p.add_argument("--counting-train", type=int, default=480)
    p.add_argument("--counting-test", type=int, default=160)
    p.add_argument("--blink-thresholds", nargs="+", type=float,
                   default=[0.0, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15],
                   help="local (max over 4x4 cells) measure")
    p.add_argument("--blink-global", nargs="*", type=float, default=[0.002, 0.005],
                   help="thresholds of the global mean measure, for comparison")
    p.add_argument("--blink-max-skip", nargs="*", type=int, default=[3],
                   help="the local thresholds again with at most this many frames skipped in a row")
    p.add_argument("--blink-strides", nargs="*", type=int, default=[2, 3],
                   help="content-blind skipping: every n-th frame")
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
        sets["textured"] = run_set("textured", WorldConfig(**base), args.models, args, blink_rate=args.rate)
    if args.kinematogram_models:
        sets["kinematogram"] = run_set("kinematogram", WorldConfig(**base, kinematogram=True),
                                       args.kinematogram_models, args)
    if args.rate_models:
        fast = at_rate(WorldConfig(**base), args.rate)
        rate_args = argparse.Namespace(**{**vars(args), "clip_length": fast.clip_length})
        sets[f"textured x{args.rate} frame rate"] = run_set(f"textured x{args.rate} frame rate", fast,
                                                            args.rate_models, rate_args)
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
