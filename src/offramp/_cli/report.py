"""``offramp report REPO``: write the eventlet status post for a repository."""

from __future__ import annotations

import os
import sys

from offramp._cli import _output
from offramp._cli.trend import add_history_arguments, parse_countdown


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write a Markdown status post: trend, services, usages by kind",
        description="Write one Markdown post: remaining and in-flight eventlet references at "
                    "each point (trend), the chart as a Mermaid block and as a PNG beside the "
                    "post, which services load no eventlet (services) and the usages by kind "
                    "with their replacements (scan), all for the tree of the last point's "
                    "commit, read from git.")
    add_history_arguments(p)
    p.add_argument("-o", "--output", default="eventlet-status.md", metavar="FILE.md",
                   help="the post (default: eventlet-status.md); the chart goes to "
                        "FILE-trend.png beside it")
    p.add_argument("--no-chart", action="store_true", help="no PNG chart")
    p.add_argument("-m", "--module", action="append", metavar="[NAME=]MODULE[:FUNC]",
                   help="services to check instead of the declared entry points (repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from offramp.migrate import post, trend
    from offramp.migrate._walk import DEFAULT_EXCLUDES

    excludes = DEFAULT_EXCLUDES + tuple(args.exclude_dir or ())
    try:
        if not os.path.isdir(args.repo):
            raise ValueError(f"REPO {args.repo!r} is not a directory")
        if not args.output.endswith(".md"):
            raise ValueError(f"invalid --output {args.output!r}: the file name must end in .md")
        with _output.progress("counting", not args.no_progress) as progress:
            status = post.gather(args.repo, args.name, args.branch, args.every, args.since,
                                 args.until, args.at, args.tags, args.in_flight,
                                 parse_countdown(args.countdown), args.module, args.title,
                                 args.x_title, args.y_title, excludes, progress)
        status.command = ["offramp", *args.argv]
        written = post.write(status, args.output, chart=not args.no_chart)
    except trend.NoPoints as exc:
        print(f"offramp report: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError, trend.GitError) as exc:
        print(f"offramp report: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0
