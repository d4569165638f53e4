"""``seesall eval TASK ...``: metrics for every task, on files in the standard formats."""

from __future__ import annotations

import argparse
from types import ModuleType

from seesall.tasks.classification import cli as classification_cli
from seesall.tasks.detection import cli as detection_cli
from seesall.tasks.embedding import cli as embedding_cli
from seesall.tasks.flow import cli as flow_cli
from seesall.tasks.instance import cli as instance_cli
from seesall.tasks.keypoints import cli as keypoints_cli
from seesall.tasks.panoptic import cli as panoptic_cli
from seesall.tasks.semantic import cli as semantic_cli
from seesall.tasks.video import cli as action_cli

HELP = "Evaluate predictions (or a checkpoint) against ground truth for one task."


def _tasks() -> dict[str, ModuleType]:
    """Task name -> its ``seesall.tasks.<task>.cli`` module (with add_eval_args, evaluate)."""
    return {
        "detection": detection_cli,
        "semantic": semantic_cli,
        "instance": instance_cli,
        "keypoints": keypoints_cli,
        "panoptic": panoptic_cli,
        "flow": flow_cli,
        "classification": classification_cli,
        "embedding": embedding_cli,
        "action": action_cli,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, module in _tasks().items():
        p = sub.add_parser(name, help=f"evaluate {name}")
        module.add_eval_args(p)
        p.set_defaults(_task_run=module.evaluate)


def run(args: argparse.Namespace) -> int:
    return int(args._task_run(args) or 0)
