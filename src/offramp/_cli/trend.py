"""``offramp trend REPO``: eventlet counts across git history, no checkout."""

from __future__ import annotations

import os
import sys

from offramp._cli import _output


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "trend", help="eventlet line counts across git history, with in-flight removals",
        description="Count eventlet references at points of a branch's first-parent history "
                    "(dates, every N days/weeks, or tags) straight from git objects, and how "
                    "many references unmerged refs would remove.")
    add_history_arguments(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    fmt.add_argument("--mermaid", action="store_true", help="print a Mermaid xychart-beta block")
    p.add_argument("--chart", metavar="FILE.png|svg", help="also draw a bar chart")
    p.add_argument("--no-cache", action="store_true",
                   help="count every blob again, and keep nothing (default: reuse blob counts "
                        "from $OFFRAMP_CACHE_DIR or ~/.cache/offramp; OFFRAMP_NO_CACHE=1 "
                        "turns it off too)")
    p.set_defaults(func=run)


def add_history_arguments(p) -> None:
    """REPO and the options that choose points, shared with ``offramp report``."""
    p.add_argument("repo", metavar="REPO", help="path to a git repository")
    p.add_argument("--branch", default="HEAD", help="branch whose history is sampled (HEAD)")
    p.add_argument("--every", metavar="N{d,w}", help="a point every N days or weeks (default 7d)")
    p.add_argument("--since", metavar="DATE",
                   help="first --every point (default: a year before --until, or the first commit)")
    p.add_argument("--until", metavar="DATE", help="last --every point (default: tip commit)")
    p.add_argument("--at", metavar="[LABEL=]DATE,...", help="points at these dates")
    p.add_argument("--tags", nargs="?", const="*", metavar="GLOB", help="points at tags")
    p.add_argument("--in-flight", action="append", default=[], metavar="REF",
                   help="unmerged ref (branch, review ref or glob) whose removals to count; "
                        "repeatable")
    p.add_argument("--exclude-dir", action="append", metavar="GLOB",
                   help="directory names to skip (default: releasenotes)")
    p.add_argument("--name", help="project name in the title (default: REPO's directory name)")
    p.add_argument("--title", help="chart title")
    p.add_argument("--x-title", help="x-axis title")
    p.add_argument("--y-title", default="Remaining references and in-flight removals")
    p.add_argument("--countdown", metavar="DATE:PREFIX",
                   help="label points PREFIX-N, N whole weeks before DATE, and PREFIX+N after "
                        "it (e.g. 2025-10-01:F)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def parse_countdown(text: str | None):
    """``DATE:PREFIX`` -> (end of DATE, PREFIX), or None."""
    from offramp.migrate import trend

    if not text:
        return None
    date, sep, prefix = text.partition(":")
    if not sep or not prefix:
        raise ValueError(f"invalid --countdown {text!r}: expected DATE:PREFIX, e.g. 2025-10-01:F")
    return trend.parse_date(date, "--countdown date"), prefix


def run(args) -> int:
    from offramp.migrate import _report, trend
    from offramp.migrate._cache import Cache
    from offramp.migrate._walk import DEFAULT_EXCLUDES

    excludes = DEFAULT_EXCLUDES + tuple(args.exclude_dir or ())
    try:
        if not os.path.isdir(args.repo):
            raise ValueError(f"REPO {args.repo!r} is not a directory")
        countdown = parse_countdown(args.countdown)
        with _output.progress("counting", not args.no_progress) as progress:
            points, _ = trend.trend(args.repo, args.branch, args.every, args.since, args.until,
                                    args.at, args.tags, args.in_flight, excludes,
                                    progress=progress, cache=Cache.from_env(not args.no_cache))
    except trend.NoPoints as exc:
        print(f"offramp trend: {exc}", file=sys.stderr)
        return 1
    except (ValueError, trend.GitError) as exc:
        print(f"offramp trend: {exc}", file=sys.stderr)
        return 2
    name = args.name or os.path.basename(os.path.abspath(args.repo))
    title = args.title or f"Eventlet references and in-flight removals in the {name} repo"
    labels = _report.countdown_labels(points, *countdown) if countdown else None
    x_title = args.x_title or (f"Weeks left to {countdown[1]}" if countdown else "Date")
    if args.json:
        print(_report.to_json(points))
    elif args.csv:
        sys.stdout.write(_report.to_csv(points))
    elif args.mermaid:
        sys.stdout.write(_report.to_mermaid(points, title, x_title, args.y_title, labels))
    else:
        _table(points)
    if args.chart:
        try:
            _report.write_chart(points, args.chart, title, x_title, args.y_title, labels)
        except (ValueError, OSError) as exc:
            print(f"offramp trend: {exc}", file=sys.stderr)
            return 2
    return 0


def _table(points) -> None:
    _output.table("eventlet references over time",
                  ("point", "date", "commit", "lines", "prod files", "test files", "in flight"),
                  [(p.label, p.as_dict()["date"], p.commit[:12], p.lines, p.production, p.test,
                    p.in_flight) for p in points],
                  numeric=("lines", "prod files", "test files", "in flight"))
