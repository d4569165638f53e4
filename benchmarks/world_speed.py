"""How fast the synthetic world labels scenes, next to decoding the same images from PNG.

    .venv/bin/python benchmarks/world_speed.py [--size 256 --n 100 --rounds 5]

On one core (torch and OpenCV limited to one thread) it times, in alternating
rounds so that both see the same machine load:

* render_scene: image + boxes + visible masks + keypoints + semantic + depth;
* render_pair: two frames + labels of frame 1 + exact flow + valid mask;
* render_clip (fewer items): T frames with per-frame objects;
* decoding the same images from PNG files written beforehand to a temp dir:
  ``np.asarray(Image.open(p).convert("RGB"))`` (one file per scene, two per pair).

Target: one fully labelled scene costs no more than reading its PNG.
Writes benchmarks/results/world_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from seesall.io.atomic import write_json, write_text
from seesall.structures import Scene
from seesall.world import WorldConfig, render_clip, render_pair, render_scene

RESULTS = Path(__file__).parent / "results"


def _timed(fn: Callable[[int], object], items: range) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per item of ``fn`` over ``items``."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in items:
        fn(i)
    return ((time.process_time() - cpu) / len(items), (time.perf_counter() - wall) / len(items))


def _decode(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _validate(scene: Scene) -> None:
    """The checks that constructing a Scene runs (its Objects, then the Scene itself)."""
    scene.objects.validate()
    scene.validate()


def _write_pngs(cfg: WorldConfig, n: int, folder: Path) -> tuple[list[Path], list[Path]]:
    """The PNGs of the n scenes and of both frames of the n pairs that the timing renders."""
    scenes, pairs = [], []
    for i in range(n):
        s = render_scene(cfg, i)
        scenes.append(folder / f"scene_{i}.png")
        Image.fromarray(s.image.permute(1, 2, 0).numpy()).save(scenes[-1])
        p = render_pair(cfg, i)
        for k, img in enumerate((p.image, p.image2)):
            pairs.append(folder / f"pair_{i}_{k}.png")
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(pairs[-1])
    return scenes, pairs


def measure(cfg: WorldConfig, n: int, rounds: int, clips: int) -> dict:
    """Median seconds per item of every operation over ``rounds`` alternating rounds.

    Ratios use CPU time (``time.process_time``), which a shared, loaded machine disturbs
    less than wall-clock time; wall-clock medians are recorded too.
    """
    keys = ("scene", "png_scene", "pair", "png_pair", "clip", "validate_scene", "validate_pair")
    times: dict[str, list[float]] = {k: [] for k in keys}
    walls: dict[str, list[float]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        scene_png, pair_png = _write_pngs(cfg, n, Path(tmp))
        png_bytes = sum(p.stat().st_size for p in scene_png) / n
        render_scene(cfg, 0), _decode(scene_png[0])  # warm caches and imports
        scenes = [render_scene(cfg, i) for i in range(n)]
        pairs = [render_pair(cfg, i) for i in range(n)]
        jobs: dict[str, tuple[Callable[[int], object], range]] = {
            "scene": (lambda i: render_scene(cfg, i), range(n)),
            "png_scene": (lambda i: _decode(scene_png[i]), range(n)),
            "pair": (lambda i: render_pair(cfg, i), range(n)),
            "png_pair": (lambda i: (_decode(pair_png[2 * i]), _decode(pair_png[2 * i + 1])),
                         range(n)),
            "clip": (lambda i: render_clip(cfg, i), range(clips)),
            "validate_scene": (lambda i: _validate(scenes[i]), range(n)),
            "validate_pair": (lambda i: _validate(pairs[i]), range(n)),
        }
        for _ in range(rounds):
            for key, (fn, items) in jobs.items():
                cpu, wall = _timed(fn, items)
                times[key].append(cpu)
                walls[key].append(wall)
    med = {k: statistics.median(v) for k, v in times.items()}
    wall_med = {k: statistics.median(v) for k, v in walls.items()}
    return {
        "size": list(cfg.size), "n": n, "rounds": rounds, "clips": clips,
        "clip_length": cfg.clip_length, "png_bytes_per_scene": png_bytes,
        "ms_per_item": {k: 1e3 * v for k, v in med.items()},
        "wall_ms_per_item": {k: 1e3 * v for k, v in wall_med.items()},
        "items_per_s": {k: 1.0 / v for k, v in med.items()},
        "ratio_scene_vs_png": med["scene"] / med["png_scene"],
        "ratio_pair_vs_png": med["pair"] / med["png_pair"],
        "all_rounds_cpu_ms": {k: [1e3 * x for x in v] for k, v in times.items()},
        "load_average": list(os.getloadavg()),
        "machine": {"python": sys.version.split()[0], "numpy": np.__version__,
                    "opencv": cv2.__version__, "torch": torch.__version__,
                    "platform": platform.platform()},
    }


def table(r: dict) -> str:
    ms, ps, wall = r["ms_per_item"], r["items_per_s"], r["wall_ms_per_item"]
    h, w = r["size"]
    rows = [
        ("render_scene (image + boxes + masks + keypoints + semantic + depth)", "scene"),
        ("decode the scene's PNG with PIL", "png_scene"),
        ("render_pair (2 frames + labels + flow + valid)", "pair"),
        ("decode the pair's 2 PNGs with PIL", "png_pair"),
        (f"render_clip ({r['clip_length']} frames + per-frame objects)", "clip"),
        ("  of render_scene: Objects + Scene validation (seesall.structures)", "validate_scene"),
        ("  of render_pair: Objects + Scene validation (seesall.structures)", "validate_pair"),
    ]
    lines = [f"# World speed at {h}x{w}, one core",
             "",
             f"Median over {r['rounds']} alternating rounds of {r['n']} items "
             f"({r['clips']} clips); PNGs average {r['png_bytes_per_scene'] / 1024:.0f} KiB; "
             f"load average during the run {r['load_average'][0]:.1f}.",
             "",
             "| operation | CPU ms / item | items / CPU s | wall ms / item |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {ms[k]:.2f} | {ps[k]:.1f} | {wall[k]:.2f} |" for name, k in rows]
    lines += ["",
              f"Labelled scene / PNG decode CPU time: **{r['ratio_scene_vs_png']:.2f}x**; "
              f"pair with flow / decoding its two PNGs: **{r['ratio_pair_vs_png']:.2f}x** "
              "(below 1 means generating is cheaper than reading from disk).",
              "",
              "Reproduce: `.venv/bin/python benchmarks/world_speed.py`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--n", type=int, default=100, help="items per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--clips", type=int, default=10, help="clips per round")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    cfg = WorldConfig(size=(args.size, args.size))
    result = measure(cfg, args.n, args.rounds, args.clips)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "world_speed.json", result, indent=2)
    write_text(args.out / "world_speed.md", table(result))
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
