"""``seesall predict CHECKPOINT ...``: run a trained model; the checkpoint says which task it is."""

from __future__ import annotations

import argparse
import json
from types import ModuleType

from seesall.engine.checkpoint import resolve_checkpoint
from seesall.tasks.detection import cli as detection_cli
from seesall.tasks.flow import cli as flow_cli

HELP = "Run a trained checkpoint on images (detection) or frame pairs (flow); writes predictions + pictures."


def _tasks() -> dict[str, ModuleType]:
    """Checkpoint task -> its ``seesall.tasks.<task>.cli`` module (with ``predict(args)``)."""
    return {"detection": detection_cli, "flow": flow_cli}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a run directory (its checkpoints/last) or a checkpoint folder")
    parser.add_argument("input", nargs="?", help="detection: an image file or a folder of images")
    parser.add_argument("--out", required=True,
                        help="output folder (overlays + predictions.json), or a .flo/.png file for one flow pair")
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="detection: smallest score drawn on the overlays (every detection goes to the JSON)")
    parser.add_argument("--pair", nargs=2, metavar=("IMAGE1", "IMAGE2"), action="append", default=[],
                        help="flow: two frames (repeatable)")
    parser.add_argument("--pairs-dir", help="flow: a folder of frames; consecutive files in name order make pairs")


def run(args: argparse.Namespace) -> int:
    folder = resolve_checkpoint(args.checkpoint)
    try:
        task = json.loads((folder / "meta.json").read_text()).get("task")
    except ValueError as e:
        raise ValueError(f"{folder / 'meta.json'}: not valid JSON ({e})") from None
    module = _tasks().get(task)
    if module is None:
        raise ValueError(f"{folder}: `seesall predict` supports {sorted(_tasks())} checkpoints, this one is {task!r}")
    if task == "detection" and args.input is None:
        raise ValueError("a detection checkpoint needs an INPUT image or folder")
    return int(module.predict(args) or 0)
