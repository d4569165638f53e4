"""``seesall eval action`` and ``seesall predict`` on action checkpoints.

    seesall predict RUN CLIPS --out OUT [--blink THRESHOLD [--max-skip N] | --delta THRESHOLD]
    seesall eval action --gt CLIPS/clips.json --pred OUT/predictions.json --out metrics.json

``CLIPS`` is a folder written by ``seesall world --task action`` (or its ``clips.json``), a video
file, a frame folder (PNG / JPEG frames), or a folder of video files and frame folders.
Predictions are written in the ActivityNet / Kinetics results format, ``{"results": {clip:
[{"label": name, "score": p}, ...]}}``, with every class ranked by probability; a clip's key is
its file stem. A clip counts for top-k when fewer than k other labels score at least as high
as its true class (ties count against it).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from seesall.io.atomic import read_json, write_json

RESULTS_KEY = "results"


# ----------------------------------------------------------------------------------------
# seesall eval action --gt clips.json --pred predictions.json


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path,
                        help="clips.json of an exported clip folder (or the folder)")
    parser.add_argument("--pred", required=True, type=Path,
                        help="predictions JSON ({'results': {clip: [{'label', 'score'}, ...]}})")
    parser.add_argument("--out", type=Path, default=None, help="write the metrics JSON here")


def _read_json(path: Path) -> dict:
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def read_ground_truth(path: Path) -> tuple[list[str], dict[str, str]]:
    """clips.json (or its folder) -> (class names, {clip key: true class name})."""
    path = path / "clips.json" if path.is_dir() else path
    data = _read_json(path)
    try:
        actions = [str(a) for a in data["actions"]]
        clips = list(data["clips"])
        truth: dict[str, str] = {}
        for i, c in enumerate(clips):
            key, a = Path(c["path"]).stem, c["action"]
            if not isinstance(a, int) or not 0 <= a < len(actions):
                raise ValueError(f"clips[{i}].action must be an index into 'actions', got {a!r}")
            if key in truth:
                raise ValueError(f"clips[{i}]: a second clip named {key!r}")
            truth[key] = actions[a]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: malformed clips file ({e})") from None
    if not truth:
        raise ValueError(f"{path}: no clips")
    return actions, truth


def read_predictions(path: Path) -> dict[str, dict[str, float]]:
    """Results JSON -> {clip key: {label: score}}."""
    data = _read_json(path)
    results = data.get(RESULTS_KEY)
    if not isinstance(results, dict):
        raise ValueError(f"{path}: expected {{'{RESULTS_KEY}': {{clip: [...]}}}}")
    scores = {}
    for key, entries in results.items():
        try:
            scored = {str(e["label"]): float(e["score"]) for e in entries}
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: results[{key!r}] needs a list of {{'label', 'score'}} ({e!r})") from None
        if any(math.isnan(v) for v in scored.values()):
            raise ValueError(f"{path}: results[{key!r}] has a NaN score")
        scores[key] = scored
    return scores


def evaluate_files(gt: Path, pred: Path) -> dict[str, float]:
    """Top-1, top-5 and mean per-class top-1 (%) over every ground-truth clip."""
    actions, truth = read_ground_truth(gt)
    scores = read_predictions(pred)
    missing = sorted(set(truth) - set(scores))
    if missing:
        raise ValueError(f"{pred}: no prediction for {len(missing)} clip(s), e.g. {missing[:3]}")
    rank = {}  # 1 + the other labels scoring at least as high as the true one (inf: not predicted)
    for key, label in truth.items():
        s = scores[key]
        rank[key] = 1 + sum(v >= s[label] for k, v in s.items() if k != label) if label in s else math.inf
    out = {"top1": 100 * sum(r <= 1 for r in rank.values()) / len(truth),
           "top5": 100 * sum(r <= 5 for r in rank.values()) / len(truth), "clips": len(truth)}
    per_class = {a: [rank[k] <= 1 for k, label in truth.items() if label == a] for a in actions}
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


def _is_frame_folder(path: Path) -> bool:
    from seesall.io.video import FRAME_SUFFIXES

    return path.is_dir() and any(p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
                                 for p in path.iterdir())


def clip_inputs(source: Path) -> list[tuple[str, Path]]:
    """(key, path) of every clip in ``source``: an exported folder (or its clips.json), one video
    file, one frame folder (it holds PNG / JPEG frames), or a folder whose video files and frame
    folders are the clips (hidden entries and folders without frames are passed over)."""
    from seesall.io.video import is_video_file

    if not source.exists():
        raise FileNotFoundError(f"{source}: no such clip, folder or clips.json")
    if source.name == "clips.json" and source.is_file():
        source = source.parent
    if (source / "clips.json").is_file():
        from seesall.data.folder import ClipFolder

        found = [(Path(e["path"]).stem, source / e["path"]) for e in ClipFolder(source).entries]
    elif source.is_file() or _is_frame_folder(source):
        found = [(source.stem, source)]
    else:
        found = [(p.stem, p) for p in sorted(source.iterdir()) if not p.name.startswith(".")
                 and (is_video_file(p) or _is_frame_folder(p))]
    if not found:
        raise ValueError(f"{source}: no video file or frame folder here")
    seen: dict[str, Path] = {}
    for key, path in found:
        if key in seen:
            raise ValueError(f"{seen[key]} and {path} would both be clip {key!r}; rename one")
        seen[key] = path
    return found


def fit_clip(video: Tensor, length: int | None, size: int, *, name: str = "clip") -> Tensor:
    """uint8 Tensor[T, 3, H, W] -> the central ``length`` consecutive frames (all with None: the
    frame rate the model was trained at), the central square resized to ``size`` x ``size``
    (antialiased), uint8."""
    t, _, h, w = video.shape
    if length is not None:
        if t < length:
            raise ValueError(f"{name}: {t} frames, the model takes clips of {length}")
        start = (t - length) // 2
        video = video[start : start + length]
    side = min(h, w)
    return TF.resize(TF.center_crop(video, [side, side]), [size, size], antialias=True)


def predict(args: argparse.Namespace) -> int:
    """``seesall predict`` on an action checkpoint: ``predictions.json`` (what ``seesall eval
    action --pred`` reads) and ``<clip>_pred.png`` (the frames titled with the top-3). A clip
    gives its central clip-length frames; with ``--blink`` (skipping frames) or ``--delta``
    (recomputing only what changed) the causal model streams all of them."""
    from seesall.engine.recipe import task_options
    from seesall.engine.run import load_trained_model
    from seesall.io.video import read_video_tensor
    from seesall.tasks.video import recipe
    from seesall.tasks.video.blink import BlinkStream
    from seesall.tasks.video.data import clip_flows
    from seesall.tasks.video.delta import DeltaStream
    from seesall.tasks.video.models import CausalClip, normalize_video
    from seesall.viz.layout import clip_strip, save_png, titled

    if args.input is None:
        raise ValueError("an action checkpoint needs an INPUT clip, folder or exported clip folder")
    model, cfg, meta = load_trained_model(args.checkpoint, recipe)
    names = list(meta.get("class_names") or [])
    blink = getattr(args, "blink", None)
    if blink is not None and not isinstance(model, CausalClip):
        raise ValueError(f"--blink needs a causal model (causal3d*), this checkpoint is {meta.get('model')!r}")
    if blink is not None and not blink >= 0:
        raise ValueError(f"--blink must be >= 0, got {blink}")
    max_skip = getattr(args, "max_skip", None)
    if max_skip is not None and (blink is None or max_skip < 0):
        raise ValueError(f"--max-skip needs --blink and must be >= 0, got {max_skip}")
    delta = getattr(args, "delta", None)
    if delta is not None and blink is not None:
        raise ValueError("--delta and --blink are two ways to stream: give one")
    if delta is not None and not isinstance(model, CausalClip):
        raise ValueError(f"--delta needs a causal model (causal3d*), this checkpoint is {meta.get('model')!r}")
    if delta is not None and not delta >= 0:
        raise ValueError(f"--delta must be >= 0, got {delta}")
    stream = blink is not None or delta is not None
    length = task_options(cfg, recipe.TaskConfig).clip_length
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, skipped, spent = {}, [], []
    deltas = DeltaStream(net=model.net, threshold=delta) if delta is not None else None
    for key, path in clip_inputs(Path(args.input)):
        # a stream sees every frame; the other models the clip length they were trained on
        video = fit_clip(read_video_tensor(path).as_subclass(Tensor), None if stream else length,
                         cfg.data.image_size, name=str(path))
        x = normalize_video(video[None])  # (1, 3, T, S, S)
        with torch.no_grad():
            if blink is not None:
                res = BlinkStream(net=model.net, threshold=blink, max_skip=max_skip).run(video, x[0])
                logits = res.clip_logits[None]
                skipped.append(res.skipped_fraction)
            elif deltas is not None:
                res = deltas.run(x)
                logits = res.clip_logits
                spent.append(float(res.macs_fraction[0]))
            else:
                flow = clip_flows(video)[None] if getattr(model, "uses_flow", False) else None
                logits = model(x, flow)
        probs = logits.softmax(dim=1)[0]
        order = probs.argsort(descending=True, stable=True).tolist()
        results[key] = [{"label": names[i], "score": round(float(probs[i]), 6)} for i in order]
        top = ", ".join(f"{names[i]} {float(probs[i]):.2f}" for i in order[:3])
        save_png(titled(clip_strip(video), f"{key}: {top}"), out_dir / f"{key}_pred.png")
        print(f"{key}: {top}")
    write_json(out_dir / "predictions.json", {RESULTS_KEY: results}, indent=1)
    if skipped:
        print(f"blink {blink}: {100 * sum(skipped) / len(skipped):.1f} % of the frames skipped")
    if spent:
        print(f"delta {delta}: {100 * sum(spent) / len(spent):.1f} % of the dense multiply-adds spent "
              "(mean over the clips)")
    return 0
