"""``offramp scan PATH``: count and classify Eventlet usage."""

from __future__ import annotations

import sys

from offramp._cli import _output


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "scan", help="count and classify eventlet usage in a tree",
        description="Count lines mentioning eventlet (as grep -R -i would), list the files "
                    "importing it and classify every usage with a suggested replacement. "
                    "Never imports or runs the scanned code.")
    p.add_argument("path", metavar="PATH", help="directory or file to scan")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print the usages as CSV")
    p.add_argument("--exclude-dir", action="append", metavar="GLOB",
                   help="directory names to skip (repeatable; default: releasenotes). "
                        "VCS directories are always skipped")
    p.add_argument("--no-default-excludes", action="store_true",
                   help="do not skip releasenotes")
    p.add_argument("--fail-over", type=_non_negative, metavar="N",
                   help="exit 1 when the line count exceeds N (CI gate)")
    p.add_argument("--legacy-grep", action="store_true",
                   help="count one line per matching binary file, like grep < 3.5")
    add_cache_argument(p)
    p.set_defaults(func=run, quick_exit=True)


def add_cache_argument(p) -> None:
    """``--no-cache``, shared with ``offramp lint``."""
    p.add_argument("--no-cache", action="store_true",
                   help="analyse every file again, and keep nothing (default: reuse each "
                        "file's analysis, by content, from $OFFRAMP_CACHE_DIR or "
                        "~/.cache/offramp; OFFRAMP_NO_CACHE=1 turns it off too)")


def _non_negative(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid N {text!r}: expected a non-negative integer")
    return value


def run(args) -> int:
    from offramp.migrate import scan as scanner
    from offramp.migrate._cache import Cache
    from offramp.migrate._walk import DEFAULT_EXCLUDES

    excludes = () if args.no_default_excludes else DEFAULT_EXCLUDES
    excludes += tuple(args.exclude_dir or ())
    try:
        result = scanner.scan(args.path, excludes, legacy_binary=args.legacy_grep,
                              cache=Cache.from_env(not args.no_cache))
    except (FileNotFoundError, NotADirectoryError) as exc:
        print(f"offramp scan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(scanner.to_json(result))
    elif args.csv:
        sys.stdout.write(scanner.to_csv(result))
    else:
        _render(result)
    if args.fail_over is not None and result.lines > args.fail_over:
        print(f"offramp scan: {result.lines} eventlet lines exceed --fail-over {args.fail_over}",
              file=sys.stderr)
        return 1
    return 0


def _render(result) -> None:
    """Summary, per-kind table, per-usage table; every cell in full."""
    _output.text(f"{result.lines} lines mention eventlet; {len(result.production)} production "
                 f"and {len(result.test)} test files import it.")
    by_kind: dict[str, list] = {}
    for u in result.usages:
        by_kind.setdefault(u.kind, []).append(u)
    _output.table("Usages by primitive", ("kind", "count", "category", "suggested replacement"),
                  [(kind, len(items), items[0].category, items[0].suggestion)
                   for kind, items in sorted(by_kind.items(), key=lambda kv: -len(kv[1]))],
                  numeric=("count",))
    _output.table("Usages", ("location", "kind", "name"),
                  [(f"{u.path}:{u.line}:{u.col}", u.kind, u.name) for u in result.usages])
    for warning in result.warnings:
        _output.text(f"warning: {warning}")
