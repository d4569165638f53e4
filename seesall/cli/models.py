"""``seesall models``: every model name of every task's table, with its parameter count."""

from __future__ import annotations

import argparse

HELP = "List every trainable model: name, task and number of parameters."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", metavar="TASK", help="only this task's models")


def rows(task: str | None = None) -> list[tuple[str, str, int]]:
    """(model name, task, parameter count) for every model of the recipes in ``seesall train``."""
    from seesall.cli.train import _recipes

    recipes = _recipes()
    if task is not None and task not in recipes:
        raise ValueError(f"--task {task!r}: unknown task; choose from {', '.join(sorted(recipes))}")
    result = []
    for name, recipe in sorted(recipes.items()):
        if task is not None and name != task:
            continue
        for model_name in recipe.MODELS:
            model = recipe.build_model(model_name)
            result.append((model_name, name, sum(p.numel() for p in model.parameters())))
    return result


def run(args: argparse.Namespace) -> int:
    table = rows(args.task)
    width = max([len(r[0]) for r in table] + [5])
    print(f"{'model':<{width}}  {'task':<16}  {'parameters':>12}")
    for name, task, n in table:
        print(f"{name:<{width}}  {task:<16}  {n:>12,}")
    return 0
