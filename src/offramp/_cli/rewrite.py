"""``offramp rewrite PATH``: mechanical eventlet swaps (dry run by default)."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rewrite", help="rewrite mechanical eventlet uses (prints a diff unless --write)",
        description="libcst codemods: sleep, semaphores, queues, spawn, GreenPool, Event and "
                    "time.sleep(0). Prints a unified diff; --write applies it atomically. "
                    "Never writes outside PATH.")
    p.add_argument("path", metavar="PATH", help="directory or file to rewrite")
    p.add_argument("--write", action="store_true", help="apply the changes in place")
    p.set_defaults(func=run)


def run(args) -> int:
    from offramp.migrate.rewrite import rewrite_tree

    try:
        results, refused = rewrite_tree(args.path, write=args.write)
    except FileNotFoundError as exc:
        print(f"offramp rewrite: {exc}", file=sys.stderr)
        return 2
    changed = errors = 0
    for item in results:
        if item.result.error:
            errors += 1
            print(f"{item.path}: {item.result.error}; left untouched", file=sys.stderr)
            continue
        for report in item.result.reports:
            print(f"{item.path}: {report}", file=sys.stderr)
        if item.result.changed:
            changed += 1
            if not args.write:
                sys.stdout.write(item.diff())
    for refusal in refused:
        print(refusal, file=sys.stderr)
    verb = "rewrote" if args.write else "would rewrite"
    print(f"offramp rewrite: {verb} {changed} of {len(results)} files"
          + (f", {errors} unparseable" if errors else "")
          + (f", {len(refused)} refused" if refused else ""), file=sys.stderr)
    return 1 if errors or refused else 0
