"""``offramp lint PATH``: report eventlet usage as ``path:line:col CODE msg``."""

from __future__ import annotations

import sys

from offramp._cli.scan import add_cache_argument


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lint", help="flag eventlet usage that has a stdlib or offramp replacement",
        description="Print path:line:col CODE message for each finding; exit 1 if any.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="directories or files to lint (pre-commit passes many files)")
    p.add_argument("--allow", action="append", default=[], metavar="GLOB",
                   help="files allowed to import eventlet (repeatable; relative to PATH "
                        "or to the current directory)")
    add_cache_argument(p)
    p.set_defaults(func=run, quick_exit=True)


def run(args) -> int:
    from offramp.migrate._cache import Cache
    from offramp.migrate.lint import lint_paths

    try:
        findings = lint_paths(args.paths, tuple(args.allow),
                              cache=Cache.from_env(not args.no_cache))
    except FileNotFoundError as exc:
        print(f"offramp lint: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    return 1 if findings else 0
