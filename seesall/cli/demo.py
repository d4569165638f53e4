"""``seesall demo``: the main job. Fresh synthetic scenes, pairs and clips, every label drawn."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from seesall.cli.world import WORLD_TABLES
from seesall.viz import save_png
from seesall.viz.preview import Names, dataset_preview
from seesall.world import WorldConfig, render_clip, render_pair, render_scene

HELP = "Render fresh synthetic scenes, pairs and clips with every label drawn into DIR."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo"), help="output folder (default: demo)")
    parser.add_argument("--n", type=int, default=4, help="samples of each kind")
    parser.add_argument("--size", type=int, default=160, help="image side in pixels")
    parser.add_argument("--seed", type=int, help="seed (default: a fresh random one, printed)")


def run(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    cfg = WorldConfig(size=(args.size, args.size))
    t = WORLD_TABLES
    names = Names(things=t.things, semantic=t.semantic, actions=t.actions, skeleton=t.skeleton)
    pictures = {
        "scenes.png": [render_scene(cfg, seed + i) for i in range(args.n)],
        "pairs.png": [render_pair(cfg, seed + i) for i in range(args.n)],
        "clips.png": [render_clip(cfg, seed + i) for i in range(args.n)],
    }
    for name, samples in pictures.items():
        path = save_png(dataset_preview(samples, names), args.out / name)
        print(f"wrote {path}")
    print(f"seed {seed}: the pictures are in {args.out.resolve()}")
    return 0
