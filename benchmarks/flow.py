"""Optical flow on the synthetic world: FlowNetS / FlowNetC vs OpenCV Farneback and DIS.

    .venv/bin/python benchmarks/flow.py [--cpu-budget 300 900 --train-pairs 1000 --test-pairs 200]

Both networks are trained from scratch for a fixed CPU-time budget on random
crops of world pairs (independent object motions, background motion,
occlusions), then every method runs on the same held-out full-size pairs.
Writes benchmarks/results/flow.{json,md} and flow.png.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import torch

from seesall.engine.transfer import freeze
from seesall.io.atomic import write_json, write_text
from seesall.tasks.flow.classical import CLASSICAL
from seesall.tasks.flow.data import FlowBatch, random_crop_flip, stack_pairs
from seesall.tasks.flow.loss import FLOWNET_WEIGHTS, multiscale_epe_loss
from seesall.tasks.flow.metrics import FlowMetrics
from seesall.tasks.flow.models import MODELS
from seesall.tasks.flow.predict import normalize_images, predict_flow
from seesall.tasks.flow.weights import flow_weights_metadata, load_flow_weights, save_flow_weights
from seesall.viz.flow import flow_to_color
from seesall.viz.layout import grid, save_png, titled
from seesall.world import WorldConfig, render_pair

TRAIN_SEED, VAL_SEED, TEST_SEED = 10_000, 950_000, 900_000
RESULTS = Path(__file__).parent / "results"


def _render(args: tuple[WorldConfig, int]) -> FlowBatch:
    return stack_pairs([render_pair(*args)])


def render_pairs(cfg: WorldConfig, seeds: range, workers: int, cache: Path | None) -> FlowBatch:
    """World pairs for ``seeds`` as one FlowBatch (flow kept in float16 to save memory)."""
    path = cache / f"pairs_{cfg.size[0]}x{cfg.size[1]}_{seeds.start}_{len(seeds)}.pt" if cache else None
    if path is not None and path.exists():
        return FlowBatch(**torch.load(path))
    jobs = [(cfg, s) for s in seeds]
    if workers > 1:  # spawn: forking a process that already runs torch / OpenCV threads can hang
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_render, jobs, chunksize=8)
    else:
        parts = [_render(j) for j in jobs]
    out = FlowBatch(torch.cat([p.image1 for p in parts]), torch.cat([p.image2 for p in parts]),
                    torch.cat([p.flow for p in parts]).half(), torch.cat([p.valid for p in parts]))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(vars(out), path)
    return out


def initial_model(name: str, init: Path | None) -> tuple[torch.nn.Module, dict]:
    """A fresh ``MODELS[name]``, or one started from a weight file holding either ``name``
    itself, the ``base`` of ``name`` (a stack on that network), or a related model: then every
    parameter whose name and shape match is taken from the file and the rest stay freshly
    initialised (listed as ``init_fresh``). Returns the model and the training cost recorded in
    the file (``train_cpu_seconds``, ``train_steps``)."""
    model = MODELS[name]()
    if init is None:
        return model, {"train_cpu_seconds": 0.0, "train_steps": 0}
    meta, start = flow_weights_metadata(init), load_flow_weights(init)
    if "train_cpu_seconds" not in meta:
        raise ValueError(f"{init}: no train_cpu_seconds in its metadata, the stack's cost is unknown")
    base = getattr(model, "base", None)
    fresh: list[str] = []
    if meta["model"] == name:
        model.load_state_dict(start.state_dict())
    elif base is not None and type(start) is type(base):
        base.load_state_dict(start.state_dict())
    else:
        own, theirs = model.state_dict(), start.state_dict()
        taken = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
        if not taken:
            raise ValueError(f"{init}: holds {meta['model']}, which shares no parameter with {name}")
        model.load_state_dict(taken, strict=False)
        fresh = sorted(set(own) - set(taken))
    return model, {"train_cpu_seconds": float(meta["train_cpu_seconds"]),
                   "train_steps": int(meta.get("train_steps", 0)), "init": str(init),
                   "init_model": meta["model"], "init_fresh": fresh}


def train(name: str, data: FlowBatch, val: FlowBatch, *, steps: int, cpu_budget: float, batch: int,
          crop: int, lr: float, seed: int, eval_every: float, level_weights: tuple[float, ...] | None,
          init: Path | None = None, max_wall: float = math.inf,
          freeze_patterns: Sequence[str] = ()) -> tuple[torch.nn.Module, dict]:
    """Adam with warm-up + cosine decay over the budget, random crops / flips, multi-scale EPE.

    The budget is ``cpu_budget`` seconds of this process's CPU time (``time.process_time``,
    fair on a shared machine) or ``steps`` steps, whichever ends first; the schedule follows
    the fraction of the budget used. ``max_wall`` (seconds since the start, evaluations
    included) is a safety stop for a crowded machine: the schedule then follows the larger of
    the CPU and wall fractions, so the learning rate still decays to zero. Every ``eval_every``
    CPU seconds the model's EPE on ``val`` is recorded (evaluation time is not charged to the budget). With ``init`` the
    model starts from that weight file (see ``initial_model``) and the returned cost adds the
    file's recorded cost to this run's (``run_cpu_seconds`` / ``run_steps`` are this run's).
    ``freeze_patterns`` freeze parameters as the CLI's ``--freeze`` does (globs or ``re:REGEX``).
    """
    torch.manual_seed(seed)
    model, prior = initial_model(name, init)
    level_weights = level_weights or tuple(getattr(model, "level_weights", FLOWNET_WEIGHTS))
    if freeze_patterns:
        freeze(model, freeze_patterns)
    params = [q for q in model.parameters() if q.requires_grad]
    if not params:
        raise ValueError(f"--freeze {list(freeze_patterns)} leaves no parameter of {name} to train")
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    cpu, step, wall0, log, curve, next_eval = 0.0, 0, time.perf_counter(), [], [], 0.0
    model.train()
    while step < steps and cpu < cpu_budget and time.perf_counter() - wall0 < max_wall:
        if cpu >= next_eval:
            curve.append(_curve_point(model, val, prior["train_cpu_seconds"] + cpu, step, log))
            next_eval += eval_every
        t0 = time.process_time()
        frac = max(step / steps, cpu / cpu_budget, (time.perf_counter() - wall0) / max_wall)
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, 20 * frac + 0.01) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        idx = torch.randint(0, len(data), (batch,), generator=gen)
        b = random_crop_flip(data[idx], (crop, crop), gen)
        out = multiscale_epe_loss(model(normalize_images(b.image1), normalize_images(b.image2)),
                                  b.flow.float(), b.valid, div_flow=model.div_flow,
                                  weights=level_weights)
        opt.zero_grad(set_to_none=True)
        out["loss_flow"].backward()
        opt.step()
        log.append(float(out["epe_s4"]))
        step += 1
        cpu += time.process_time() - t0
    curve.append(_curve_point(model, val, prior["train_cpu_seconds"] + cpu, step, log))
    return model.eval(), {**prior, "train_cpu_seconds": prior["train_cpu_seconds"] + cpu,
                          "train_steps": prior["train_steps"] + step, "run_cpu_seconds": cpu,
                          "run_steps": step, "train_wall_seconds": time.perf_counter() - wall0,
                          "level_weights": list(level_weights),
                          "stopped_by": "steps" if step >= steps else "cpu" if cpu >= cpu_budget else "wall",
                          "final_train_epe_s4": statistics.mean(log[-100:]) if log else None,
                          "val_curve": curve}


def _curve_point(model: torch.nn.Module, val: FlowBatch, cpu: float, step: int, log: list[float]) -> dict:
    model.eval()
    metrics = FlowMetrics()
    with torch.no_grad():
        for i in range(len(val)):
            metrics.update(predict_flow(model, val.image1[i : i + 1], val.image2[i : i + 1])[0],
                           val.flow[i].float(), val.valid[i])
    model.train()
    point = {"cpu_s": round(cpu, 1), "step": step, "val_EPE": round(metrics.compute()["EPE"], 4),
             "train_EPE_s4": round(statistics.mean(log[-100:]), 4) if log else None}
    print(f"  cpu {cpu:.0f}s step {step}: val EPE {point['val_EPE']:.3f}, "
          f"train EPE(1/4) {point['train_EPE_s4']}", file=sys.stderr, flush=True)
    return point


def evaluate(fn, data: FlowBatch) -> tuple[dict, list[torch.Tensor]]:
    """Metrics over every pair of ``data`` and the median ms per pair; returns the first 3 flows."""
    metrics, times, shown = FlowMetrics(), [], []
    for i in range(len(data)):
        t0 = time.perf_counter()
        flow = fn(data.image1[i], data.image2[i])
        times.append(1000 * (time.perf_counter() - t0))
        metrics.update(flow, data.flow[i].float(), data.valid[i])
        if i < 3:
            shown.append(flow)
    out = metrics.compute()
    out["ms_per_pair"], out["ms_min"] = statistics.median(times), min(times)
    return out, shown


def compiled(model: torch.nn.Module, eager: Callable, data: FlowBatch) -> tuple[Callable, dict]:
    """``model`` through ``torch.compile`` (inductor's C++ kernels, one static shape, weights
    frozen as constants: inference only) for the timing; returns the predict function and its
    compile seconds plus its largest difference from the eager model's flow on the first pair
    (the metrics are the eager model's)."""
    from torch._inductor import config as inductor_config  # private, and only needed here

    fast = torch.compile(model, dynamic=False)

    def fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        with inductor_config.patch(freezing=True):  # also for the recompile per thread count
            return predict_flow(fast, a[None], b[None])[0]

    t0 = time.perf_counter()
    with torch.no_grad():
        diff = float((fn(data.image1[0], data.image2[0]) - eager(data.image1[0], data.image2[0])).abs().max())
    return fn, {"compile_seconds": time.perf_counter() - t0, "max_abs_diff_px": diff}


def time_side_by_side(methods: dict[str, Callable], data: FlowBatch, threads: Sequence[int],
                      pairs: int) -> dict[str, dict[str, float]]:
    """Median ms per pair of every method on the first ``pairs`` pairs at each torch / OpenCV
    thread count, the methods interleaved pair by pair so that the machine's load hits them alike,
    after one untimed call of each."""
    out = {}
    for n in threads:
        torch.set_num_threads(n)
        cv2.setNumThreads(n)
        times: dict[str, list[float]] = {k: [] for k in methods}
        with torch.no_grad():
            for fn in methods.values():  # warm-up, untimed (a compiled model recompiles per thread count)
                fn(data.image1[0], data.image2[0])
            for i in range(min(pairs, len(data))):
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    fn(data.image1[i], data.image2[i])
                    times[name].append(1000 * (time.perf_counter() - t0))
        out[str(n)] = {k: statistics.median(v) for k, v in times.items()}
    return out


def picture(data: FlowBatch, flows: dict[str, list[torch.Tensor]], path: Path) -> None:
    """Rows: frame 1, ground truth, then every method, same colour scale per row."""
    tiles = []
    for i in range(len(next(iter(flows.values())))):
        gt = data.flow[i].float()
        scale = float(torch.linalg.vector_norm(gt, dim=0).max())
        tiles.append(titled(data.image1[i], "frame 1"))
        tiles.append(titled(flow_to_color(gt, max_flow=scale, valid=data.valid[i]), "ground truth"))
        for name, fl in flows.items():
            tiles.append(titled(flow_to_color(fl[i], max_flow=scale), name))
    save_png(grid(tiles, ncols=2 + len(flows)), path)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1_000_000, help="most training steps per network")
    p.add_argument("--max-train-wall", type=float, default=math.inf,
                   help="safety stop: most wall-clock seconds of training per network (the "
                        "schedule then decays by wall time if that runs out first)")
    p.add_argument("--cpu-budget", type=float, nargs="+", default=[600.0],
                   help="training CPU seconds per network (one value, or one per --models entry)")
    p.add_argument("--eval-every", type=float, default=120.0,
                   help="CPU seconds between validation EPE points of the training curve")
    p.add_argument("--level-weights", type=float, nargs="+", default=None,
                   help="loss weight per prediction level, finest first (default: the model's "
                        "level_weights, else FlowNet's)")
    p.add_argument("--val-pairs", type=int, default=40, help="pairs for the training curve")
    p.add_argument("--save", type=Path, default=RESULTS,
                   help="folder for the trained weights (flow_<model>.safetensors, float16)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's peak learning rate")
    p.add_argument("--train-pairs", type=int, default=1000)
    p.add_argument("--test-pairs", type=int, default=200)
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--models", nargs="+", default=["flownet_s_tiny", "flownet_c_small"])
    p.add_argument("--threads", type=int, default=1, help="torch / OpenCV threads for timing")
    p.add_argument("--timing-threads", type=int, nargs="+", default=[1, 2],
                   help="thread counts of the side-by-side timing of DIS-medium and the networks")
    p.add_argument("--timing-pairs", type=int, default=50, help="test pairs of that timing")
    p.add_argument("--compile", action="store_true",
                   help="also time each network compiled by torch.compile (needs a C++ compiler)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cache", type=Path, default=Path("/tmp/seesall_bench_cache"))
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--init", nargs="+", default=[], metavar="MODEL=WEIGHTS",
                   help="start MODEL from a flow weight file (of MODEL or of its base network); "
                        "the table's training cost then includes the file's")
    p.add_argument("--freeze", nargs="+", default=[], metavar="PATTERN",
                   help="freeze the parameters matching a glob or re:REGEX (as seesall train's "
                        "--freeze), e.g. 're:^(base|refine)\\.' to train only a stack's affine heads")
    p.add_argument("--tag", default="flow",
                   help="name of the outputs: <out>/<tag>.{json,md,png}, <save>/<tag>_<model>.safetensors")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    inits = dict(parse_init(x) for x in args.init)
    if set(inits) - set(args.models):
        raise ValueError(f"--init names models not in --models: {sorted(set(inits) - set(args.models))}")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    cfg = WorldConfig(size=(args.size, args.size))
    t0 = time.perf_counter()
    train_data = render_pairs(cfg, range(TRAIN_SEED, TRAIN_SEED + args.train_pairs), args.workers, args.cache)
    test_data = render_pairs(cfg, range(TEST_SEED, TEST_SEED + args.test_pairs), args.workers, args.cache)
    val_data = render_pairs(cfg, range(VAL_SEED, VAL_SEED + args.val_pairs), args.workers, args.cache)
    print(f"rendered in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    results: dict[str, dict] = {}
    shown: dict[str, list[torch.Tensor]] = {}
    trained: dict[str, Callable] = {}
    zero = lambda a, b: torch.zeros(2, *a.shape[-2:])  # noqa: E731
    for name in ("zero", "farneback", "dis_ultrafast", "dis_fast", "dis_medium"):
        results[name], flows = evaluate(zero if name == "zero" else CLASSICAL[name], test_data)
        if name in ("dis_medium", "farneback"):
            shown[name] = flows
    budgets = args.cpu_budget * len(args.models) if len(args.cpu_budget) == 1 else args.cpu_budget
    if len(budgets) != len(args.models):
        raise ValueError(f"--cpu-budget needs 1 or {len(args.models)} values, got {len(args.cpu_budget)}")
    for name, budget in zip(args.models, budgets, strict=True):
        print(f"training {name} for {budget:.0f} CPU s", file=sys.stderr)
        model, info = train(name, train_data, val_data, steps=args.steps, cpu_budget=budget,
                            batch=args.batch, crop=args.crop, lr=args.lr, seed=0,
                            eval_every=args.eval_every, level_weights=tuple(args.level_weights or ()),
                            init=inits.get(name), max_wall=args.max_train_wall,
                            freeze_patterns=args.freeze)
        cost = {k: str(round(info[k], 1)) for k in ("train_cpu_seconds", "train_steps")}
        info["weights"] = str(save_flow_weights(model, name, args.save / f"{args.tag}_{name}.safetensors",
                                                extra=cost))
        with torch.no_grad():
            fn = lambda a, b, m=model: predict_flow(m, a[None], b[None])[0]  # noqa: E731
            results[name], shown[name] = evaluate(fn, test_data)
        results[name].update(info)
        trained[name] = fn
        if args.compile:
            trained[f"{name} (compiled)"], results[name]["compiled"] = compiled(model, fn, test_data)
    timing = time_side_by_side({"dis_medium": CLASSICAL["dis_medium"], **trained}, test_data,
                               args.timing_threads, args.timing_pairs)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    report(results, args, timing)
    picture(test_data, {k: shown[k] for k in [*args.models, "dis_medium", "farneback"]},
            args.out / f"{args.tag}.png")
    return 0


def parse_init(text: str) -> tuple[str, Path]:
    """'MODEL=PATH' -> (MODEL, PATH)."""
    name, sep, path = text.partition("=")
    if not sep or name not in MODELS:
        raise ValueError(f"--init {text!r}: expected MODEL=WEIGHTS with MODEL in {sorted(MODELS)}")
    return name, Path(path)


def report(results: dict[str, dict], args: argparse.Namespace, timing: dict[str, dict[str, float]]) -> None:
    best = min(args.models, key=lambda n: results[n]["EPE"])
    summary = {
        "best_model": best,
        "best_epe_over_dis_medium": results[best]["EPE"] / results["dis_medium"]["EPE"],
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "methods": results,
        "timing_ms": timing,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.tag}.json", summary, indent=2)
    lines = [
        f"# Optical flow on {args.test_pairs} held-out world pairs ({args.size}x{args.size})",
        "",
        f"Networks trained (from scratch unless noted below) with Adam (peak lr {args.lr:g}, warm-up + cosine over the "
        f"budget), multi-scale EPE with level weights "
        f"{args.level_weights or 'of each model (level_weights in the JSON)'} (finest first), "
        f"batch {args.batch} of {args.crop}px crops of {args.train_pairs} pairs, for the CPU "
        f"seconds in the table (1 thread); timing: median ms/pair with {args.threads} thread(s), "
        "on the shared machine while it ran.",
        "",
        "| method | EPE | EPE-all | EPE-occ | Fl-all % | 1px % | ms/pair | min ms | train CPU s | steps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r['EPE']:.3f} | {r['EPE-all']:.3f} | {r['EPE-occ']:.3f} | "
                     f"{r['Fl-all']:.2f} | {r['1px']:.1f} | {r['ms_per_pair']:.1f} | {r['ms_min']:.1f} | "
                     f"{r.get('train_cpu_seconds', 0):.0f} | {r.get('train_steps', 0)} |")
    for name in args.models:
        if "init" in results[name]:
            r = results[name]
            lines += ["", f"{name} started from `{r['init']}` ({r['init_model']}); its train CPU s and "
                      f"steps include that file's ({r['train_cpu_seconds'] - r['run_cpu_seconds']:.0f} s, "
                      f"{r['train_steps'] - r['run_steps']} steps); the curve's CPU s too."]
            if r["init_fresh"]:
                lines += ["", f"Parameters of {name} not in that file (freshly initialised): "
                          + ", ".join(f"`{k}`" for k in r["init_fresh"]) + "."]
    if args.freeze:
        lines += ["", "Frozen (kept as loaded): the parameters matching " + ", ".join(f"`{k}`" for k in args.freeze)
                  + "; the rest trained."]
    names = list(next(iter(timing.values()))) if timing else []
    lines += ["", f"Side by side, median ms per pair on the first {args.timing_pairs} test pairs, the methods "
              "interleaved pair by pair:", "", "| threads | " + " | ".join(names) + " |",
              "|---" * (len(names) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(f"{t[k]:.1f}" for k in names) + " |" for n, t in timing.items()]
    for name in args.models:
        if "compiled" in results[name]:
            c = results[name]["compiled"]
            lines += ["", f"{name} (compiled): `torch.compile(model, dynamic=False)` with inductor's "
                      "`freezing` (weights folded in as constants, for inference), compiled in "
                      f"{c['compile_seconds']:.0f} s; its flow differs from the eager model's by at most "
                      f"{c['max_abs_diff_px']:.1e} px on the first test pair (the metrics above are eager)."]
    lines += ["", f"Best network {best}: EPE = {summary['best_epe_over_dis_medium']:.3f} x DIS-medium's.",
              "", f"Training curves: EPE on {args.val_pairs} validation pairs (other seeds) vs training "
              "CPU seconds:", ""]
    for name in args.models:
        pts = results[name]["val_curve"]
        lines += [f"| {name} CPU s | " + " | ".join(f"{p['cpu_s']:.0f}" for p in pts) + " |",
                  "|---" * (len(pts) + 1) + "|",
                  "| val EPE | " + " | ".join(f"{p['val_EPE']:.2f}" for p in pts) + " |", ""]
    write_text(args.out / f"{args.tag}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
