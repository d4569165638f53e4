"""Tracking and mask propagation on held-out world clips.

    .venv/bin/python benchmarks/tracking.py [--clips 40 --size 128 --clip-length 12]

Detections are the world's per-frame objects corrupted like a detector's output
(box jitter, missed objects, false positives with lower scores) and, with
``--detector CHECKPOINT`` (a ``seesall train detection`` run), the trained
detector's own output on every frame; the trackers
(no motion model / constant velocity / median DIS flow inside the box) associate
them with the Hungarian algorithm. MOTA / IDF1 come from motmetrics. Mask label
propagation: the frame-0 masks are carried through the clip by backward warping
with DIS flow (with and without the forward-backward occlusion check) and
compared with the true masks of the same track ids (mean mask IoU per frame).
Writes benchmarks/results/tracking.{json,md} and tracking.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision import tv_tensors

from seesall.io.atomic import write_json, write_text
from seesall.structures import Objects, Scene
from seesall.tasks.flow.classical import dis_flow
from seesall.tasks.flow.predict import predict_flow
from seesall.tasks.flow.weights import load_flow_weights
from seesall.tasks.tracking.metrics import MOTMetrics
from seesall.tasks.tracking.propagate import mask_iou, propagate_masks
from seesall.tasks.tracking.tracker import Tracker
from seesall.viz.draw import draw_tracks
from seesall.viz.layout import clip_strip, grid, save_png, titled
from seesall.world import WorldConfig, render_clip

TEST_SEED = 700_000
RESULTS = Path(__file__).parent / "results"


def noisy_detections(objs: Objects, rng: np.random.Generator, *, jitter: float, miss: float,
                     false_pos: float) -> Objects:
    """Ground truth -> detector-like output: each box jittered by ``jitter`` x its size,
    dropped with probability ``miss``; Poisson(``false_pos``) random boxes with low scores."""
    h, w = objs.canvas_size
    keep = torch.from_numpy(rng.random(len(objs)) >= miss)
    kept = objs[keep]
    b = kept.boxes.as_subclass(torch.Tensor).clone()
    size = (b[:, 2:] - b[:, :2]).repeat(1, 2)
    b = b + torch.from_numpy(rng.normal(0, jitter, b.shape)).float() * size
    boxes, labels = [b], [kept.labels]
    scores = [torch.from_numpy(rng.uniform(0.6, 1.0, len(kept))).float()]
    for _ in range(rng.poisson(false_pos)):
        x, y = rng.uniform(0, w - 16), rng.uniform(0, h - 16)
        s = rng.uniform(8, 24)
        boxes.append(torch.tensor([[x, y, x + s, y + s]], dtype=torch.float32))
        labels.append(torch.tensor([int(rng.integers(0, int(objs.labels.max()) + 1 if len(objs) else 1))]))
        scores.append(torch.tensor([float(rng.uniform(0.3, 0.7))]))
    box = torch.cat(boxes)
    box[:, 0::2] = box[:, 0::2].clamp(0, w)
    box[:, 1::2] = box[:, 1::2].clamp(0, h)
    box[:, 2:] = torch.maximum(box[:, 2:], box[:, :2])
    return Objects(labels=torch.cat(labels), boxes=tv_tensors.BoundingBoxes(box, format="XYXY", canvas_size=(h, w)),
                   scores=torch.cat(scores), ids=torch.arange(len(box)))


@torch.no_grad()
def detector_outputs(checkpoint: str, clips: list[Scene]) -> list[list[Objects]]:
    """A trained detector (``seesall train detection`` checkpoint) run on every frame."""
    from seesall.engine.run import load_trained_model
    from seesall.structures import collate
    from seesall.tasks.detection import recipe

    module, _, _ = load_trained_model(checkpoint, recipe)
    out = []
    for clip in clips:
        frames = [Scene(image=tv_tensors.Image(f), objects=o)
                  for f, o in zip(clip.video.as_subclass(torch.Tensor), clip.frame_objects, strict=True)]
        batch = collate(frames, size_divisible=32)
        preds = module.detector.predict(batch.images, batch.image_sizes)
        out.append([p.replace(ids=torch.arange(len(p))) for p in preds])
    return out


def run_tracker(clips: list[Scene], dets: list[list[Objects]], flows: list[list[torch.Tensor]],
                motion: str, min_score: float) -> tuple[dict, list[list[Objects]]]:
    metric, outputs, t_ms = MOTMetrics(), [], []
    for clip, clip_dets, clip_flows in zip(clips, dets, flows, strict=True):
        tracker = Tracker(iou_threshold=0.3, max_misses=2, min_score=min_score, min_hits=2, motion=motion)
        metric.start_sequence()
        outs = []
        for t, (gt, d) in enumerate(zip(clip.frame_objects, clip_dets, strict=True)):
            t0 = time.perf_counter()
            out = tracker.update(d, clip_flows[t - 1] if t else torch.zeros(2, *gt.canvas_size))
            t_ms.append(1000 * (time.perf_counter() - t0))
            metric.update(gt, out)
            outs.append(out)
        outputs.append(outs)
    res = metric.compute()
    res["ms_per_frame"] = statistics.median(t_ms)
    return res, outputs


FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flownet_flow(weights: Path) -> FlowFn:
    """(frame_a, frame_b) uint8 Tensor[3, H, W] -> FlowNet flow Tensor[2, H, W] in pixels."""
    model = load_flow_weights(weights)
    return lambda a, b: predict_flow(model, a[None], b[None])[0]


def propagation(clips: list[Scene], consistency: float | None, flow_fn: FlowFn = dis_flow
                ) -> tuple[list[float], float]:
    """Mean IoU per frame index of the frame-0 masks carried with ``flow_fn`` vs the true masks,
    and the median ms per flow."""
    per_t: dict[int, list[float]] = {}
    times: list[float] = []

    def timed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        out = flow_fn(a, b)
        times.append(1000 * (time.perf_counter() - t0))
        return out

    for clip in clips:
        first = clip.frame_objects[0]
        prop = propagate_masks(first.masks.as_subclass(torch.Tensor), clip.video.as_subclass(torch.Tensor),
                               timed, consistency=consistency)
        for t, (pred, gt) in enumerate(zip(prop, clip.frame_objects, strict=True)):
            for i, tid in enumerate(first.ids.tolist()):
                match = (gt.ids == tid).nonzero()
                if len(match) == 0:
                    continue
                true = gt.masks[int(match[0])].as_subclass(torch.Tensor)
                per_t.setdefault(t, []).append(float(mask_iou(pred[i : i + 1], true[None])[0]))
    return [statistics.mean(per_t[t]) for t in sorted(per_t)], statistics.median(times)


def propagation_rows(clips: list[Scene], flow_weights: Path | None) -> tuple[dict, dict]:
    """Mask propagation with DIS (and the FlowNet of ``flow_weights``), with and without the
    forward-backward check: IoU per frame and ms per flow, by row name."""
    fns: dict[str, FlowFn] = {"dis": dis_flow}
    if flow_weights is not None:
        fns["flownet"] = flownet_flow(flow_weights)
    prop, ms = {}, {}
    for name, fn in fns.items():
        for suffix, consistency in (("fb_check", 1.0), ("no_check", None)):
            prop[f"{name}_{suffix}"], ms[f"{name}_{suffix}"] = propagation(clips, consistency, fn)
    # reference: masks left where they were in frame 0
    prop["zero_flow"], ms["zero_flow"] = propagation(
        clips, None, lambda a, b: torch.zeros(2, *a.shape[-2:]))
    return prop, ms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--clip-length", type=int, default=12)
    p.add_argument("--jitter", type=float, default=0.05)
    p.add_argument("--miss", type=float, default=0.1)
    p.add_argument("--false-pos", type=float, default=0.5)
    p.add_argument("--distractor-speed", type=float, default=0.03, help="fraction of the side per frame")
    p.add_argument("--detector", default=None, metavar="CHECKPOINT",
                   help="also track the output of this trained detection run")
    p.add_argument("--detector-score", type=float, default=0.25,
                   help="tracker's minimum detection score for --detector (a briefly trained "
                        "focal-loss detector scores its hits around 0.3)")
    p.add_argument("--flow-weights", type=Path, default=None, metavar="SAFETENSORS",
                   help="also propagate masks with this FlowNet (benchmarks/flow.py writes "
                        "benchmarks/results/flow_<model>.safetensors)")
    p.add_argument("--only-propagation", action="store_true",
                   help="rerun only the mask propagation; keep the tracking rows and their "
                        "settings from the existing tracking.json in --out")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    cfg = WorldConfig(size=(args.size, args.size), clip_length=args.clip_length, num_objects=(3, 6),
                      distractor_speed=args.distractor_speed)
    clips = [render_clip(cfg, TEST_SEED + i) for i in range(args.clips)]
    if args.only_propagation:
        return rerun_propagation(clips, args)
    rng = np.random.default_rng(0)
    dets = [[noisy_detections(o, rng, jitter=args.jitter, miss=args.miss, false_pos=args.false_pos)
             for o in c.frame_objects] for c in clips]
    flows = [[dis_flow(c.video[t], c.video[t + 1]) for t in range(len(c.video) - 1)] for c in clips]
    results, outputs = {}, {}
    for motion in ("none", "velocity", "flow"):
        results[f"tracker_{motion}"], outputs[motion] = run_tracker(clips, dets, flows, motion, min_score=0.5)
    if args.detector:
        real = detector_outputs(args.detector, clips)
        for motion in ("none", "velocity", "flow"):
            results[f"detector+tracker_{motion}"], outputs[f"detector_{motion}"] = run_tracker(
                clips, real, flows, motion, min_score=args.detector_score)
    gt_as_pred = [[o for o in c.frame_objects] for c in clips]
    oracle = MOTMetrics()
    for c, outs in zip(clips, gt_as_pred, strict=True):
        oracle.start_sequence()
        for gt, o in zip(c.frame_objects, outs, strict=True):
            oracle.update(gt, o)
    results["ground_truth_as_tracks"] = oracle.compute()
    prop, prop_ms = propagation_rows(clips, args.flow_weights)
    report(results, prop, prop_ms, args)
    shown = range(min(3, len(clips)))
    tiles = [titled(clip_strip(draw_tracks(clips[i].video, outputs["flow"][i])[::2]),
                    f"clip {i}: tracker_flow on noisy detections (every 2nd frame)") for i in shown]
    if args.detector:
        tiles += [titled(clip_strip(draw_tracks(clips[i].video, outputs["detector_flow"][i])[::2]),
                         f"clip {i}: tracker_flow on the trained detector (every 2nd frame)") for i in shown]
    save_png(grid(tiles, ncols=1), args.out / "tracking.png")
    return 0


def rerun_propagation(clips: list[Scene], args: argparse.Namespace) -> int:
    """``--only-propagation``: new propagation rows beside the recorded tracking rows."""
    path = args.out / "tracking.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: --only-propagation needs a previous full run's results")
    old = json.loads(path.read_text())
    for key in ("clips", "size", "clip_length", "distractor_speed"):
        if old["config"].get(key) != getattr(args, key):
            raise ValueError(f"{path}: recorded {key}={old['config'].get(key)!r} differs from "
                             f"--{key.replace('_', '-')} {getattr(args, key)!r}")
    prop, prop_ms = propagation_rows(clips, args.flow_weights)
    for key in ("jitter", "miss", "false_pos", "detector", "detector_score"):
        setattr(args, key, old["config"][key])
    report(old["tracking"], prop, prop_ms, args)
    return 0


def report(results: dict, prop: dict, prop_ms: dict, args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "tracking.json", {"config": {k: str(v) if isinstance(v, Path) else v
                                                       for k, v in vars(args).items()},
                                            "tracking": results, "mask_propagation_iou_per_frame": prop,
                                            "mask_propagation_ms_per_flow": prop_ms}, indent=2)
    lines = [f"# Tracking on {args.clips} held-out world clips ({args.size}px, T={args.clip_length})", "",
             f"Detections: ground truth with {args.jitter:.0%} box jitter, {args.miss:.0%} misses, "
             f"Poisson({args.false_pos}) false positives per frame (scores 0.3-0.7)"
             + (f"; detector+ rows: the trained detector {args.detector} on every frame "
                f"(detections scored >= {args.detector_score})." if args.detector
                else "."), "",
             "| method | MOTA % | IDF1 % | IDSW | FP | FN | MT | ML | ms/frame |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['MOTA']:.1f} | {r['IDF1']:.1f} | {r['IDSW']:.0f} | {r['FP']:.0f} | "
                     f"{r['FN']:.0f} | {r['MT']:.0f} | {r['ML']:.0f} | {r.get('ms_per_frame', 0):.2f} |")
    flows = "DIS flow" + (f" and the FlowNet {args.flow_weights}" if args.flow_weights else "")
    lines += ["", f"Mask propagation from frame 0 with {flows}, mean mask IoU at frame t "
              "(fb_check: pixels failing the 1 px forward-backward check get no label):", "",
              "| t | " + " | ".join(str(t) for t in range(len(prop["dis_fb_check"]))) + " | ms/flow |",
              "|---" * (len(prop["dis_fb_check"]) + 2) + "|"]
    for name, ious in prop.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in ious) + f" | {prop_ms[name]:.1f} |")
    write_text(args.out / "tracking.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
