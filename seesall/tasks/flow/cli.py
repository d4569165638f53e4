"""``seesall eval flow`` and flow prediction files.

    seesall eval flow --gt GT_DIR --pred PRED_DIR --out metrics.json

Ground truth and predictions are ``.flo`` or KITTI ``.png`` files matched by file
stem (``0001.flo`` in --gt with ``0001.flo`` or ``0001.png`` in --pred). KITTI
valid masks (and Middlebury "unknown" vectors) are honoured. ``EPE`` and
``Fl-all`` (percent) are averaged over all valid ground-truth pixels of the set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from seesall.io.atomic import write_json
from seesall.io.flow import flow_to_tensor, read_flow, write_flow
from seesall.io.image import read_image_tensor
from seesall.tasks.flow.metrics import FlowMetrics
from seesall.tasks.flow.predict import predict_flow

FLOW_SUFFIXES = (".flo", ".png")


def add_eval_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="folder of ground-truth .flo / KITTI .png")
    parser.add_argument("--pred", required=True, help="folder of predicted flow, same stems")
    parser.add_argument("--out", default=None, help="write the metrics here as JSON")


def _flow_files(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"--{what}: {folder} is not a folder")
    files = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in FLOW_SUFFIXES:
            if p.stem in files:
                raise ValueError(f"--{what}: two flow files named {p.stem} ({files[p.stem].name}, "
                                 f"{p.name})")
            files[p.stem] = p
    if not files:
        raise ValueError(f"--{what}: no .flo or .png files in {folder}")
    return files


def evaluate_folders(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike) -> dict[str, float]:
    """Metrics of every ground-truth file against the prediction of the same stem."""
    gt_files = _flow_files(Path(gt_dir), "gt")
    pred_files = _flow_files(Path(pred_dir), "pred")
    missing = sorted(set(gt_files) - set(pred_files))
    if missing:
        raise FileNotFoundError(f"--pred: no prediction for {len(missing)} ground-truth files, "
                                f"e.g. {gt_files[missing[0]].name}")
    metrics = FlowMetrics()
    for stem, gt_path in gt_files.items():
        gt, valid = read_flow(gt_path)
        pred, _ = read_flow(pred_files[stem])
        if pred.shape != gt.shape:
            raise ValueError(f"{pred_files[stem]}: flow of shape {list(pred.shape)}, ground truth "
                             f"{gt_path.name} has {list(gt.shape)}")
        g, v = flow_to_tensor(gt, valid)
        p, _ = flow_to_tensor(pred, np.ones(pred.shape[:2], bool))
        metrics.update(p.as_subclass(torch.Tensor), g.as_subclass(torch.Tensor),
                       v.as_subclass(torch.Tensor))
    out = metrics.compute()
    out["files"] = float(len(gt_files))
    return out


def evaluate(args: argparse.Namespace) -> int:
    result = evaluate_folders(args.gt, args.pred)
    if args.out:
        write_json(args.out, {k: (None if np.isnan(v) else v) for k, v in result.items()},
                   indent=2)
    print(" ".join(f"{k}={v:.4f}" for k, v in result.items()))
    return 0


def predict_pair_files(model: torch.nn.Module, image1: str | os.PathLike,
                       image2: str | os.PathLike, out: str | os.PathLike) -> None:
    """Predict flow from two image files and write it (``.flo`` or KITTI ``.png`` by suffix)."""
    a, b = read_image_tensor(image1), read_image_tensor(image2)
    if a.shape != b.shape:
        raise ValueError(f"{image2}: size {list(b.shape[-2:])} differs from {image1} "
                         f"({list(a.shape[-2:])})")
    model.eval()
    flow = predict_flow(model, a[None], b[None])[0]  # (2, H, W)
    write_flow(out, flow.permute(1, 2, 0).numpy())


def load_flow_model(checkpoint: str | os.PathLike, *, name: str = "best") -> torch.nn.Module:
    """A FlowNet from an engine checkpoint (run dir or checkpoint folder) trained by ``seesall train flow``."""
    from seesall.engine.checkpoint import load_checkpoint
    from seesall.tasks.flow.models import MODELS

    data = load_checkpoint(checkpoint, name=name)
    if data.meta.get("task") != "flow" or data.meta.get("model") not in MODELS:
        raise ValueError(f"{checkpoint}: not a flow checkpoint (task={data.meta.get('task')!r}, "
                         f"model={data.meta.get('model')!r})")
    model = MODELS[data.meta["model"]]()
    model.load_state_dict(data.model)
    return model.eval()


def add_predict_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pair", nargs=2, metavar=("IMAGE1", "IMAGE2"), action="append", default=[],
                        help="two frames (repeatable)")
    parser.add_argument("--pairs-dir", default=None,
                        help="folder of frames: consecutive files in name order make pairs")
    parser.add_argument("--out", required=True, help="a .flo/.png file (one pair) or a folder")


def predict(args: argparse.Namespace) -> int:
    """``seesall predict CHECKPOINT --pair A.png B.png --out flow.flo`` (or --pairs-dir DIR --out DIR)."""
    model = load_flow_model(args.checkpoint)
    pairs = [tuple(p) for p in args.pair]
    if args.pairs_dir:
        frames = sorted(p for p in Path(args.pairs_dir).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        pairs += list(zip(frames[:-1], frames[1:], strict=True))
    if not pairs:
        raise ValueError("give --pair IMAGE1 IMAGE2 or --pairs-dir DIR")
    out = Path(args.out)
    if len(pairs) == 1 and out.suffix.lower() in FLOW_SUFFIXES:
        predict_pair_files(model, *pairs[0], out)
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for a, b in pairs:
        predict_pair_files(model, a, b, out / f"{Path(a).stem}.flo")
    return 0
