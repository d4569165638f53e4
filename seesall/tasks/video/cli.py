"""``seesall eval action`` and ``seesall predict`` on action checkpoints.

    seesall predict RUN CLIPS --out OUT [--blink THRESHOLD]
    seesall eval action --gt CLIPS/clips.json --pred OUT/predictions.json --out metrics.json

``CLIPS`` is a folder written by ``seesall world --task action`` (``clips.json``), a video
file, a frame folder, or a folder of those. Predictions are written in the ActivityNet /
Kinetics results format, ``{"results": {clip: [{"label": name, "score": p}, ...]}}``, with
every class ranked by probability; a clip's key is its file stem. Top-1 / top-5 count a clip
right when its true class is among the first 1 / 5 labels.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from seesall.io.atomic import write_json

RESULTS_KEY = "results"


# ----------------------------------------------------------------------------------------
# seesall eval action --gt clips.json --pred predictions.json


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path,
                        help="clips.json of an exported clip folder (or the folder)")
    parser.add_argument("--pred", required=True, type=Path,
                        help="predictions JSON ({'results': {clip: [{'label', 'score'}, ...]}})")
    parser.add_argument("--out", type=Path, default=None, help="write the metrics JSON here")


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{what}: {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def read_ground_truth(path: Path) -> tuple[list[str], dict[str, str]]:
    """clips.json (or its folder) -> (class names, {clip key: true class name})."""
    path = path / "clips.json" if path.is_dir() else path
    data = _read_json(path, "--gt")
    try:
        actions = [str(a) for a in data["actions"]]
        truth = {Path(c["path"]).stem: actions[int(c["action"])] for c in data["clips"]}
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{path}: malformed clips file, every clip needs 'path' and an 'action' "
                         f"index into 'actions' ({e!r})") from None
    return actions, truth


def read_predictions(path: Path) -> dict[str, list[str]]:
    """Results JSON -> {clip key: labels ranked by score, best first}."""
    data = _read_json(path, "--pred")
    results = data.get(RESULTS_KEY)
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected {{'{RESULTS_KEY}': {{clip: [...]}}}}")
    ranked = {}
    for key, entries in results.items():
        try:
            scored = [(float(e["score"]), str(e["label"])) for e in entries]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: results[{key!r}] needs a list of {{'label', 'score'}} ({e!r})") from None
        if any(math.isnan(s) for s, _ in scored):
            raise ValueError(f"{path}: results[{key!r}] has a NaN score")
        ranked[key] = [label for _, label in sorted(scored, key=lambda x: -x[0])]
    return ranked


def evaluate_files(gt: Path, pred: Path) -> dict[str, float]:
    """Top-1, top-5 and mean per-class top-1 (%) over every ground-truth clip."""
    actions, truth = read_ground_truth(gt)
    ranked = read_predictions(pred)
    missing = sorted(set(truth) - set(ranked))
    if missing:
        raise ValueError(f"{pred}: no prediction for {len(missing)} clip(s), e.g. {missing[:3]}")
    hits1, hits5 = {}, {}
    for key, label in truth.items():
        hits1[key] = ranked[key][:1] == [label]
        hits5[key] = label in ranked[key][:5]
    out = {"top1": 100 * sum(hits1.values()) / len(truth), "top5": 100 * sum(hits5.values()) / len(truth),
           "clips": len(truth)}
    per_class = {a: [hits1[k] for k, label in truth.items() if label == a] for a in actions}
    present = {a: 100 * sum(h) / len(h) for a, h in per_class.items() if h}
    out["mean_class_top1"] = sum(present.values()) / len(present)
    out.update({f"top1/{a}": v for a, v in present.items()})
    return out


def evaluate(args: argparse.Namespace) -> int:
    metrics = evaluate_files(args.gt, args.pred)
    if args.out is not None:
        write_json(args.out, metrics, indent=1)
    print(f"top1 {metrics['top1']:.2f}  top5 {metrics['top5']:.2f}  "
          f"mean class top1 {metrics['mean_class_top1']:.2f}  ({metrics['clips']} clips)")
    return 0


# ----------------------------------------------------------------------------------------
# seesall predict CHECKPOINT CLIPS --out DIR


def clip_inputs(source: Path) -> list[tuple[str, Path]]:
    """(key, path) of every clip: an exported folder's clips.json, one video file or frame
    folder, or a folder of video files / frame folders."""
    from seesall.io.video import is_video_file

    if not source.exists():
        raise FileNotFoundError(f"{source}: no such clip, folder or clips.json")
    if (source / "clips.json").is_file():
        from seesall.data.folder import ClipFolder

        entries = ClipFolder(source).entries
        return [(Path(e["path"]).stem, source / e["path"]) for e in entries]
    if source.is_file() or not any(p.is_dir() or is_video_file(p) for p in source.iterdir()):
        return [(source.stem, source)]
    return [(p.stem, p) for p in sorted(source.iterdir()) if p.is_dir() or is_video_file(p)]


def fit_clip(video: Tensor, length: int, size: int) -> Tensor:
    """uint8 Tensor[T, 3, H, W] -> ``length`` frames evenly spread over the clip, the central
    square resized to ``size`` x ``size`` (antialiased), uint8."""
    t, _, h, w = video.shape
    idx = torch.linspace(0, t - 1, length).round().long()
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = video[idx, :, top : top + side, left : left + side].float()
    if side != size:
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return crop.round().clamp(0, 255).to(torch.uint8)


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on an action checkpoint: ``predictions.json`` (what ``seesall eval
    action --pred`` reads) and ``<clip>_pred.png`` (the frames titled with the top-3)."""
    from seesall.engine.recipe import task_options
    from seesall.engine.run import load_trained_model
    from seesall.io.video import read_video_tensor
    from seesall.tasks.video import recipe
    from seesall.tasks.video.blink import BlinkStream
    from seesall.tasks.video.data import clip_flows
    from seesall.tasks.video.models import CausalClip, normalize_video
    from seesall.viz.layout import clip_strip, save_png, titled

    if args.input is None:
        raise ValueError("an action checkpoint needs an INPUT clip, folder or exported clip folder")
    model, cfg, meta = load_trained_model(args.checkpoint, recipe)
    names = list(meta.get("class_names") or [])
    blink = getattr(args, "blink", None)
    if blink is not None and not isinstance(model, CausalClip):
        raise ValueError(f"--blink needs a causal model (causal3d*), this checkpoint is {meta.get('model')!r}")
    length = task_options(cfg, recipe.TaskConfig).clip_length
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, skipped = {}, []
    for key, path in clip_inputs(Path(args.input)):
        video = fit_clip(read_video_tensor(path).as_subclass(Tensor), length, cfg.data.image_size)
        x = normalize_video(video[None])  # (1, 3, T, S, S)
        with torch.no_grad():
            if blink is not None:
                res = BlinkStream(net=model.net, threshold=blink).run(video, x[0])
                logits = res.clip_logits[None]
                skipped.append(res.skipped_fraction)
            else:
                flow = clip_flows(video)[None] if getattr(model, "uses_flow", False) else None
                logits = model(x, flow)
        probs = logits.softmax(dim=1)[0]
        order = probs.argsort(descending=True).tolist()
        results[key] = [{"label": names[i], "score": round(float(probs[i]), 6)} for i in order]
        top = ", ".join(f"{names[i]} {float(probs[i]):.2f}" for i in order[:3])
        save_png(titled(clip_strip(video), f"{key}: {top}"), out_dir / f"{key}_pred.png")
        print(f"{key}: {top}")
    write_json(out_dir / "predictions.json", {RESULTS_KEY: results}, indent=1)
    if skipped:
        print(f"blink {blink}: {100 * sum(skipped) / len(skipped):.1f} % of the frames skipped")
    return 0
