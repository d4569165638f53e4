"""``seesall predict CHECKPOINT ...``: run a trained model; the checkpoint says which task it is."""

from __future__ import annotations

import argparse
from types import ModuleType

from seesall.engine.checkpoint import resolve_checkpoint
from seesall.io.atomic import read_json
from seesall.tasks.detection import cli as detection_cli
from seesall.tasks.flow import cli as flow_cli
from seesall.tasks.instance import cli as instance_cli
from seesall.tasks.keypoints import cli as keypoints_cli
from seesall.tasks.panoptic import cli as panoptic_cli
from seesall.tasks.semantic import cli as semantic_cli
from seesall.tasks.video import cli as action_cli

HELP = ("Run a trained checkpoint on images (detection, semantic, instance, keypoints), frame "
        "pairs (flow) or clips (action); writes predictions + overlay pictures.")
IMAGE_TASKS = ("detection", "semantic", "instance", "keypoints")


def _tasks() -> dict[str, ModuleType]:
    """Checkpoint task -> its ``seesall.tasks.<task>.cli`` module (with ``predict(args)``)."""
    return {"detection": detection_cli, "flow": flow_cli, "semantic": semantic_cli,
            "instance": instance_cli, "keypoints": keypoints_cli,
            "panoptic": panoptic_cli, "action": action_cli}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a run directory (its checkpoints/last) or a checkpoint folder")
    parser.add_argument("input", nargs="?",
                        help=f"{', '.join(IMAGE_TASKS)}: an image file or a folder of images; action: a "
                             "video file, a frame folder, a folder of those or an exported clip folder")
    parser.add_argument("--out", required=True,
                        help="output folder (<stem>_pred.png overlays; predictions.json in COCO results format "
                             "for detection/instance/keypoints; labels/<stem>.png for semantic), or a .flo/.png "
                             "file for one flow pair; action: predictions.json (ranked classes) and <clip>_pred.png")
    parser.add_argument("--score-threshold", type=float, default=0.3,
                        help="detection, instance, keypoints: smallest score drawn on the overlays "
                             "(every object goes to the JSON)")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="semantic: opacity of the class colours over the image (0..1)")
    parser.add_argument("--pair", nargs=2, metavar=("IMAGE1", "IMAGE2"), action="append", default=[],
                        help="flow: two frames (repeatable)")
    parser.add_argument("--pairs-dir", help="flow: a folder of frames; consecutive files in name order make pairs")
    parser.add_argument("--blink", type=float, default=None, metavar="THRESHOLD",
                        help="action, causal models: stream each clip, skipping frames whose change "
                             "from the last processed frame is below THRESHOLD (0: every frame)")
    parser.add_argument("--max-skip", type=int, default=None, metavar="N",
                        help="action, with --blink: skip at most N frames in a row")
    parser.add_argument("--delta", type=float, default=None, metavar="THRESHOLD",
                        help="action, causal models: stream each clip, each layer recomputing only where "
                             "its input changed by more than THRESHOLD (0: exact); reports the multiply-adds "
                             "spent")


def run(args: argparse.Namespace) -> int:
    folder = resolve_checkpoint(args.checkpoint)
    task = read_json(folder / "meta.json").get("task")
    module = _tasks().get(task)
    if module is None:
        raise ValueError(f"{folder}: `seesall predict` supports {sorted(_tasks())} checkpoints, this one is {task!r}")
    if task in IMAGE_TASKS and args.input is None:
        raise ValueError(f"a {task} checkpoint needs an INPUT image or folder")
    return int(module.predict(args) or 0)
