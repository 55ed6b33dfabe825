"""``offramp rewrite PATH``: the eventlet swaps the whole tree proves safe."""

from __future__ import annotations

import sys
from collections import Counter


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rewrite", help="rewrite eventlet uses the tree proves safe (prints a diff unless --write)",
        description="Replaces eventlet primitives (sleep, semaphores, queues, events, spawn, "
                    "time.sleep(0)) where every use of the object, in every file of PATH, has "
                    "an equivalent; everything else is left alone with the reason and the "
                    "file:line that blocks it. Prints a unified diff; --write applies it "
                    "atomically. Never writes outside PATH.")
    p.add_argument("path", metavar="PATH", help="directory or file to rewrite")
    p.add_argument("--write", action="store_true", help="apply the changes in place")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="paths (relative to PATH) to leave alone, e.g. 'mypkg/_backends/*' "
                        "(repeatable); see also the '# offramp: keep' pragma")
    p.add_argument("--entry-point", action="append", default=[], metavar="MODULE:FUNC",
                   help="a process entry point: offramp.bootstrap() is added as the first "
                        "statement of FUNC (repeatable). Libraries must not bootstrap")
    p.add_argument("--require-bootstrap", action="store_true",
                   help="refuse fixes that add offramp.* calls to a module no "
                        "offramp.bootstrap() reaches (instead of warning)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes for parsing (default: the number of CPUs)")
    p.add_argument("--quiet", action="store_true", help="no per-use reasons, only the summary")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary (fixes, refusals with reasons, bootstrap warnings) "
                        "on stdout instead of the diff")
    p.set_defaults(func=run)


def run(args) -> int:
    from offramp.migrate.rewrite import rewrite_tree

    if args.jobs is not None and args.jobs < 1:
        print(f"offramp rewrite: invalid --jobs {args.jobs}: expected a positive integer",
              file=sys.stderr)
        return 2
    try:
        result = rewrite_tree(args.path, write=args.write, exclude_paths=tuple(args.exclude),
                              entry_points=tuple(args.entry_point), jobs=args.jobs,
                              require_bootstrap=args.require_bootstrap)
    except FileNotFoundError as exc:
        print(f"offramp rewrite: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"offramp rewrite: {exc}", file=sys.stderr)
        return 2
    if args.json:
        import json

        print(json.dumps(summary(result), indent=1))
        return 1 if result.refused or any(r.result.error for r in result.results) else 0
    changed = errors = 0
    for item in result.results:
        if item.result.error:
            errors += 1
            print(f"{item.path}: {item.result.error}; left untouched", file=sys.stderr)
            continue
        if not args.quiet:
            for report in item.result.reports:
                print(f"{item.path}: {report}", file=sys.stderr)
        if item.result.changed:
            changed += 1
            if not args.write:
                sys.stdout.write(item.diff())
    for refusal in result.refused:
        print(refusal, file=sys.stderr)
    for warning in result.bootstrap_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.bootstrap_warnings:
        print("warning: offramp.* calls need offramp.bootstrap() in the process's entry point "
              "(--entry-point MODULE:FUNC adds it; a library must leave it to the application; "
              "tests can run with pytest --offramp-mode=eventlet). See docs/migration.md.",
              file=sys.stderr)
    verb = "rewrote" if args.write else "would rewrite"
    reasons = Counter(r.reason.split(" (")[0] for _, r in result.refusals)
    print(f"offramp rewrite: {verb} {changed} of {result.files_seen} files "
          f"({result.files_parsed} analysed): {len(result.fixes)} fixes made, "
          f"{len(result.refusals)} left alone"
          + (f", {errors} unparseable" if errors else "")
          + (f", {len(result.refused)} refused" if result.refused else ""), file=sys.stderr)
    if reasons and not args.quiet:
        for reason, n in reasons.most_common(8):
            print(f"  {n:4d}  {reason}", file=sys.stderr)
    return 1 if errors or result.refused else 0


def summary(result) -> dict:
    """The run as plain data: what changed, what was left alone and why."""
    return {
        "files_seen": result.files_seen,
        "files_analysed": result.files_parsed,
        "files_changed": sorted(r.path for r in result.results if r.result.changed),
        "unparseable": sorted(r.path for r in result.results if r.result.error),
        "fixes": [{"file": path, "line": fix.edits[0].span[0] if fix.edits else 0,
                   "what": fix.what} for path, fix in result.fixes],
        "refusals": [{"file": path, "line": r.line, "what": r.what, "reason": r.reason}
                     for path, r in result.refusals],
        "bootstrap_warnings": result.bootstrap_warnings,
        "refused_paths": result.refused,
    }
