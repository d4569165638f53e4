"""``seesall eval TASK ...``: metrics for every task, on files in the standard formats."""

from __future__ import annotations

import argparse
from types import ModuleType

HELP = "Evaluate predictions (or a checkpoint) against ground truth for one task."


def _tasks() -> dict[str, ModuleType]:
    """Task name -> its ``seesall.tasks.<task>.cli`` module (with add_eval_args, evaluate)."""
    from importlib import import_module

    return {
        "detection": import_module("seesall.tasks.detection.cli"),
        "semantic": import_module("seesall.tasks.semantic.cli"),
        "instance": import_module("seesall.tasks.instance.cli"),
        "keypoints": import_module("seesall.tasks.keypoints.cli"),
        "panoptic": import_module("seesall.tasks.panoptic.cli"),
        "flow": import_module("seesall.tasks.flow.cli"),
        "classification": import_module("seesall.tasks.classification.cli"),
        "embedding": import_module("seesall.tasks.embedding.cli"),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, module in _tasks().items():
        p = sub.add_parser(name, help=f"evaluate {name}")
        module.add_eval_args(p)
        p.set_defaults(_task_run=module.evaluate)


def run(args: argparse.Namespace) -> int:
    return int(args._task_run(args) or 0)
