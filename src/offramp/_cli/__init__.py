"""The ``offramp`` command line.

Each subcommand is one module in this package that defines
``register(subparsers)``; the parser is built by walking the package, so a
new subcommand is a new file and nothing else.  A command line that
names its subcommand first builds only that one's parser: ``scan`` and
``lint`` start without importing the other subcommands.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from offramp._cli import _output


def subcommands() -> list[str]:
    """The subcommands' names: this package's public modules (read from
    the directory: pkgutil would import inspect, a slow start-up's worth)."""
    return sorted(name[:-3] for name in os.listdir(__path__[0])
                  if name.endswith(".py") and not name.startswith("_"))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``only`` that one."""
    parser = argparse.ArgumentParser(
        prog="offramp",
        description="Get Python services off Eventlet.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [only] if only else subcommands():
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a reader closing stdout ends it quietly."""
    try:
        words = sys.argv[1:] if argv is None else argv
        parser = build_parser(words[0] if words and words[0] in subcommands() else None)
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for the record
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        if argv is None and getattr(args, "quick_exit", False):
            _output.quick_exit(code)
        return code
    except BrokenPipeError:
        return _output.silence_closed_stdout()
