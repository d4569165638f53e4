"""Engine overhead: steps/s of the engine's Trainer against a bare hand-written PyTorch loop.

Same model (the classification table's ``classifier_small`` by default), same
in-memory world crops, same DataLoader, optimiser and schedule; the engine adds
its hooks (LR schedule, logging to TensorBoard + scalars.jsonl every 10 steps,
NaN/inf check every step; progress bar off, no checkpoints inside the timed span).
The two loops alternate (interleaved repetitions) and medians are compared.

Then a short classification run through ``seesall train`` and a plot of its
scalars.jsonl (loss, learning rate, validation top-1/top-5).

    python benchmarks/engine_overhead.py [--steps 60] [--reps 5] [--run-steps 300]

Writes benchmarks/results/engine_overhead.{json,md,png}.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from seesall.engine.data import EpochStream
from seesall.engine.distributed import DistInfo
from seesall.engine.hooks import LogHook, LRScheduleHook
from seesall.engine.schedule import lr_factor
from seesall.engine.trainer import Trainer
from seesall.engine.transfer import param_groups
from seesall.nn import normalize_image
from seesall.tasks.classification import MODELS, WorldCrops, classification_loss, collate_crops
from seesall.world import THING_CLASSES, WorldConfig

RESULTS = Path(__file__).parent / "results"


def _setup(args: argparse.Namespace, seed: int):
    torch.manual_seed(seed)
    model = MODELS[args.model](num_classes=len(THING_CLASSES))
    opt = torch.optim.AdamW(param_groups(model, lr=1e-3, weight_decay=1e-4), lr=1e-3)
    return model, opt


def _rates(steps: int, wall0: float, cpu0: float) -> tuple[float, float]:
    """(steps per wall-clock second, steps per CPU second of this process)."""
    return steps / (time.perf_counter() - wall0), steps / (time.process_time() - cpu0)


def bare_loop(args: argparse.Namespace, data: WorldCrops) -> tuple[float, float]:
    """The hand-written reference: (wall, CPU) steps/s over ``args.steps`` steps."""
    model, opt = _setup(args, 0)
    factor = functools.partial(lr_factor, schedule="cosine", max_steps=args.steps)
    g = torch.Generator().manual_seed(0)
    loader = DataLoader(
        data, batch_size=args.batch_size, shuffle=True, drop_last=True, collate_fn=collate_crops, generator=g
    )
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    step = 0
    while step < args.steps:
        for images, labels in loader:
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor(step)
            logits = model(normalize_image(images))
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == args.steps:
                break
    loss.item()
    return _rates(args.steps, t0, c0)


def engine_loop(args: argparse.Namespace, data: WorldCrops, run_dir: Path) -> tuple[float, float]:
    """The engine's Trainer with its hooks: (wall, CPU) steps/s over ``args.steps`` steps."""
    model, opt = _setup(args, 0)
    stream = EpochStream(
        data, batch_size=args.batch_size, collate_fn=collate_crops, num_workers=0, seed=0, rank=0, world_size=1
    )
    hooks = [
        LRScheduleHook(functools.partial(lr_factor, schedule="cosine", max_steps=args.steps)),
        LogHook(run_dir, period=10, progress=False, enabled=True),
    ]
    trainer = Trainer(
        model=model,
        loss_fn=lambda out, b: classification_loss(out, b[1]),
        inputs=lambda b: (normalize_image(b[0]),),
        optimizer=opt,
        data=stream,
        dist=DistInfo(0, 1, 0, torch.device("cpu")),
        max_steps=args.steps,
        hooks=hooks,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train()
    return _rates(args.steps, t0, c0)


def measure(args: argparse.Namespace) -> dict:
    world = WorldConfig(size=(64, 64), num_objects=(1, 3))
    data = WorldCrops(n=args.batch_size * 16, crop_size=args.image_size, seed=0, world=world)
    for i in range(len(data)):  # render once: both loops read the same cached crops
        data[i]
    bare, engine = [], []
    with tempfile.TemporaryDirectory() as tmp:
        warm = argparse.Namespace(**{**vars(args), "steps": 5})  # imports, allocator, caches
        bare_loop(warm, data)
        engine_loop(warm, data, Path(tmp) / "warm")
        for rep in range(args.reps):
            bare.append(bare_loop(args, data))
            engine.append(engine_loop(args, data, Path(tmp) / f"rep{rep}"))
            print(
                f"rep {rep}: bare {bare[-1][0]:.2f} steps/s (CPU {bare[-1][1]:.2f}), "
                f"engine {engine[-1][0]:.2f} steps/s (CPU {engine[-1][1]:.2f})",
                flush=True,
            )
    result = {
        "model": args.model,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "steps_per_rep": args.steps,
        "reps": args.reps,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    for i, clock in enumerate(("wall", "cpu")):
        b = [r[i] for r in bare]
        e = [r[i] for r in engine]
        mb, me = statistics.median(b), statistics.median(e)
        result[clock] = {
            "bare_steps_per_s": b,
            "engine_steps_per_s": e,
            "median_bare": mb,
            "median_engine": me,
            "overhead_percent": 100.0 * (mb / me - 1.0),
        }
    return result


def short_run(args: argparse.Namespace) -> dict:
    """A short classification run through the CLI; returns its scalars and wall-clock."""
    from seesall.cli.main import main

    run = Path(tempfile.mkdtemp(prefix="seesall-engine-bench-"))
    t0 = time.perf_counter()
    code = main(
        [
            "train",
            "classification",
            "--model",
            args.model,
            "--max-steps",
            str(args.run_steps),
            "--image-size",
            str(args.image_size),
            "--batch-size",
            str(args.batch_size),
            "--train-size",
            "4096",
            "--val-size",
            "512",
            "--eval-every",
            str(max(args.run_steps // 6, 1)),
            "--log-every",
            "5",
            "--warmup-steps",
            "20",
            "--lr",
            "2e-3",
            "--no-progress",
            "--out",
            str(run / "run"),
            "--threads",
            str(torch.get_num_threads()),
        ]
    )
    if code != 0:
        raise SystemExit(f"the classification run failed with exit code {code}")
    rows = [json.loads(x) for x in (run / "run" / "scalars.jsonl").read_text().splitlines()]
    return {"run_dir": str(run / "run"), "wall_clock_s": time.perf_counter() - t0, "rows": rows}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="train loss (CE)")
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss")
    lr_ax = ax1.twinx()
    lr_ax.plot([r["step"] for r in rows], [r["lr"] for r in rows], color="grey", ls=":", label="lr")
    lr_ax.set_ylabel("learning rate")
    ax1.legend(loc="upper right")
    evals = [r for r in rows if "val/top1" in r]
    for key in ("val/top1", "val/top5"):
        ax2.plot([r["step"] for r in evals], [r[key] for r in evals], marker="o", label=key)
    ax2.set_xlabel("step")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("accuracy on 512 held-out crops")
    ax2.legend(loc="lower right")
    fig.suptitle("seesall train classification (world crops): scalars.jsonl")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(result: dict, run: dict | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if run is not None:
        result["short_run"] = {
            "steps": run["rows"][-1]["step"],
            "wall_clock_s": run["wall_clock_s"],
            "final": run["rows"][-1],
        }
        plot(run["rows"], RESULTS / "engine_overhead.png")
    (RESULTS / "engine_overhead.json").write_text(json.dumps(result, indent=2))
    md = [
        "# Engine overhead",
        "",
        f"`{result['model']}`, batch {result['batch_size']}, {result['image_size']}px crops, "
        f"{result['steps_per_rep']} steps x {result['reps']} interleaved repetitions, "
        f"{result['threads']} thread(s), CPU.",
        "",
        "| loop | median steps/s (wall-clock) | median steps per CPU-second |",
        "|---|---|---|",
    ]
    w, c = result["wall"], result["cpu"]
    md += [
        f"| bare PyTorch | {w['median_bare']:.2f} | {c['median_bare']:.2f} |",
        f"| seesall Trainer + hooks | {w['median_engine']:.2f} | {c['median_engine']:.2f} |",
        f"| **overhead** | **{w['overhead_percent']:+.1f}%** | **{c['overhead_percent']:+.1f}%** |",
        "",
        "Overhead = median bare / median engine - 1. CPU-seconds (this process, all its threads)",
        "are less sensitive than wall-clock to other jobs sharing the machine.",
    ]
    if run is not None:
        f = run["rows"][-1]
        md += [
            "",
            f"Short run: {f['step']} steps in {run['wall_clock_s']:.0f} s wall-clock; "
            f"final loss {f['loss']:.3f}, val top-1 {f.get('val/top1', float('nan')):.3f}, "
            f"top-5 {f.get('val/top5', float('nan')):.3f} (plot: engine_overhead.png).",
        ]
    (RESULTS / "engine_overhead.md").write_text("\n".join(md) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="classifier_small")
    p.add_argument("--steps", type=int, default=60, help="steps per repetition")
    p.add_argument("--reps", type=int, default=5, help="interleaved repetitions")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run-steps", type=int, default=300, help="short classification run (0: skip)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result = measure(args)
    for clock in ("wall", "cpu"):
        r = result[clock]
        print(
            f"{clock}: median bare {r['median_bare']:.2f}, engine {r['median_engine']:.2f} "
            f"steps/s: overhead {r['overhead_percent']:+.1f}%"
        )
    write_report(result, None)  # keep the measurement even if the short run fails
    if args.run_steps > 0:
        write_report(result, short_run(args))


if __name__ == "__main__":
    main()
