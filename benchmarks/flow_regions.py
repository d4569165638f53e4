"""Where the flow error sits: EPE on the background vs on the objects, from the renderer's masks.

    .venv/bin/python benchmarks/flow_regions.py WEIGHTS [WEIGHTS ...] [--pairs 40]

Every weight file and DIS-medium run on the benchmark's validation pairs (seeds 950000 on, not
the held-out test pairs); the valid pixels are split by the union of the objects' visible masks
in frame 1. Writes benchmarks/results/flow_regions.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from seesall.io.atomic import write_json, write_text
from seesall.tasks.flow.classical import CLASSICAL
from seesall.tasks.flow.metrics import FlowMetrics
from seesall.tasks.flow.predict import predict_flow
from seesall.tasks.flow.weights import flow_weights_metadata, load_flow_weights
from seesall.world import WorldConfig, render_pair

VAL_SEED = 950_000
RESULTS = Path(__file__).parent / "results"


def region_epe(methods: dict, cfg: WorldConfig, seeds: range) -> dict[str, dict[str, float]]:
    """Per method: mean EPE over valid background pixels, valid object pixels and all valid pixels
    (``FlowMetrics`` with the region as its valid mask), and the background's share of the valid
    pixels."""
    regions = ("background", "objects", "all")
    metrics = {k: {r: FlowMetrics() for r in regions} for k in methods}
    counts = dict.fromkeys(regions, 0)
    for seed in seeds:
        scene = render_pair(cfg, seed)
        gt, valid = scene.flow.as_subclass(torch.Tensor).float(), scene.flow_valid.as_subclass(torch.Tensor)
        masks = scene.objects.masks
        has_masks = masks is not None and len(masks) > 0
        objects = masks.as_subclass(torch.Tensor).any(0) if has_masks else torch.zeros_like(valid)
        image1, image2 = scene.image.as_subclass(torch.Tensor), scene.image2.as_subclass(torch.Tensor)
        split = {"background": valid & ~objects, "objects": valid & objects, "all": valid}
        for r in regions:
            counts[r] += int(split[r].sum())
        for name, fn in methods.items():
            flow = fn(image1, image2)
            for r in regions:
                metrics[name][r].update(flow, gt, split[r])
    share = counts["background"] / max(counts["all"], 1)
    return {k: {**{r: m[r].compute()["EPE"] for r in regions}, "background_share": share}
            for k, m in metrics.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", type=Path, help="flow weight files (benchmarks/results/*.safetensors)")
    p.add_argument("--pairs", type=int, default=40)
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    methods = {}
    for path in args.weights:
        model = load_flow_weights(path)
        methods[f"{flow_weights_metadata(path)['model']} ({path.name})"] = (
            lambda a, b, m=model: predict_flow(m, a[None], b[None])[0])
    methods["dis_medium"] = CLASSICAL["dis_medium"]
    seeds = range(VAL_SEED, VAL_SEED + args.pairs)
    results = region_epe(methods, WorldConfig(size=(args.size, args.size)), seeds)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "flow_regions.json", {"pairs": args.pairs, "seeds_from": VAL_SEED, "epe": results}, indent=2)
    share = next(iter(results.values()))["background_share"]
    lines = [f"# Flow error by region: {args.pairs} validation world pairs ({args.size}x{args.size})", "",
             f"Valid pixels split by the objects' visible masks in frame 1; the background is {100 * share:.1f} % "
             "of them.", "", "| method | background EPE | objects EPE | all EPE |", "|---|---|---|---|"]
    lines += [f"| {k} | {r['background']:.3f} | {r['objects']:.3f} | {r['all']:.3f} |" for k, r in results.items()]
    lines += ["", "Reproduce: `.venv/bin/python benchmarks/flow_regions.py "
              + " ".join(str(w) for w in args.weights) + f" --pairs {args.pairs}`"]
    write_text(args.out / "flow_regions.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
