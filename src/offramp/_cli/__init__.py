"""The ``offramp`` command line.

Each subcommand is one module in this package that defines
``register(subparsers)``; the parser is built by walking the package, so a
new subcommand is a new file and nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from offramp._cli import _output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offramp",
        description="Get Python services off Eventlet.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; a reader closing stdout ends it quietly."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for the record
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        return _output.silence_closed_stdout()
