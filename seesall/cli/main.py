"""The ``seesall`` command: one sub-command per module, in one plain table."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from seesall.cli import demo, embed, index, models, predict, show, train, world
from seesall.cli import eval as eval_cmd


def _commands() -> dict[str, ModuleType]:
    """Every command that works. Each module has HELP, add_arguments(parser), run(args) -> int."""
    return {
        "demo": demo,
        "world": world,
        "show": show,
        "eval": eval_cmd,
        "train": train,
        "models": models,
        "predict": predict,
        "embed": embed,
        "index": index,
    }


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seesall", description="Vision beyond classification: see what a person sees."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in _commands().items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (CliError, ValueError, TypeError, FileNotFoundError, IsADirectoryError,
            NotADirectoryError, PermissionError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"seesall {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seesall {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
