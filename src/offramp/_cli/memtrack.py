"""``offramp memtrack``: watch a process tree's RSS and threads, report peaks.

A thin front end over :mod:`offramp.memtrack`.  Sampling runs in the
tracker's thread and prints from there; the main thread only waits, so a
SIGINT/SIGTERM (turned into KeyboardInterrupt) never lands in the middle of
a half-written line, and the summary is printed once sampling has stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from offramp._cli import _output

if TYPE_CHECKING:  # rich and psutil load when the subcommand runs, not for --help
    from rich.table import Table

    from offramp.memtrack import ProcessSample, Tracker

MiB = 1024 * 1024


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}")
    return value


def _regex(text: str) -> re.Pattern:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(
            f"bad regex {text!r}: {exc}; --name takes a Python regular "
            "expression") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "memtrack",
        help="track RSS, threads and CPU time of a process tree",
        description="Sample a process tree (by pid and/or name pattern, "
        "descendants included) at an interval and report each process's "
        "peak RSS and threads. SIGINT/SIGTERM print the summary and exit 0.")
    p.add_argument("--pid", type=_positive_int, action="append",
                   metavar="N", help="root pid to track (repeatable); "
                   "without --name, stops once the whole tree has exited")
    p.add_argument("--name", type=_regex, metavar="REGEX",
                   help="track processes whose name or command line/title "
                   "matches REGEX, and their descendants")
    p.add_argument("--interval", type=_seconds, default=1.0,
                   metavar="SECONDS", help="time between samples (default 1)")
    p.add_argument("--duration", type=_seconds,
                   metavar="SECONDS", help="stop after this long")
    p.add_argument("--count", type=_positive_int, metavar="N",
                   help="stop after N samples")
    p.add_argument("--json", action="store_true",
                   help="print JSON lines: one object per process per sample, "
                   "then a summary object")
    p.add_argument("--table", action="store_true",
                   help="with --json, also print the tables (to stderr)")
    p.set_defaults(func=run)


def _oneline(cmd: str) -> str:
    # A multi-line ``python -c`` script would break the row.
    return " ".join(cmd.split())


def _mib(n: int) -> str:
    return f"{n / MiB:.1f}"


def _table(title: str, columns: list[str], rows: list[list[str]],
           width: int) -> Table:
    """One row per process; only COMMAND (the last column) is cut short.

    rich would otherwise squeeze every column, numbers included, into an
    ellipsis on a narrow terminal.
    """
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    used = 0
    for i, col in enumerate(columns[:-1]):
        w = max([len(col)] + [len(r[i]) for r in rows])
        table.add_column(col, justify="right", no_wrap=True, min_width=w)
        used += w + 3
    table.add_column(columns[-1], no_wrap=True, overflow="ellipsis",
                     max_width=max(width - used - 2, 10))
    for row in rows:
        table.add_row(*row)
    return table


class _Printer:
    """Writes each sample as JSON lines and/or a rich table."""

    def __init__(self, args):
        self.json = args.json
        self.out = sys.stdout
        self.console = self.plain = None
        if args.table or not args.json:  # JSON owns stdout when asked for
            from rich.console import Console

            stream = sys.stderr if args.json else sys.stdout
            self.console = Console(file=stream, highlight=False)
            # Piped: plain columns with the whole command line.
            self.plain = None if _output.is_terminal(stream) else stream

    def _show(self, title: str, columns: list[str], rows: list[list[str]]) -> None:
        if self.plain is not None:
            self.plain.write(_output.plain_table(title, columns, rows, columns[:-1]))
            self.plain.flush()
        else:
            self.console.print(_table(title, columns, rows, self.console.width))

    def sample(self, n: int, samples: list[ProcessSample]) -> None:
        if self.json:
            lines = [json.dumps({"type": "sample", "n": n, **s.to_dict()})
                     for s in samples]
            if lines:
                self.out.write("\n".join(lines) + "\n")
                self.out.flush()
        if self.console is not None:
            total = sum(s.rss for s in samples)
            when = time.strftime("%H:%M:%S")
            rows = [[str(s.pid), str(s.ppid), _mib(s.rss), str(s.threads),
                     f"{s.cpu_time:.2f}", _oneline(s.cmdline)]
                    for s in sorted(samples, key=lambda s: -s.rss)]
            self._show(f"sample {n} at {when}: {len(samples)} processes, "
                       f"{_mib(total)} MiB RSS",
                       ["PID", "PPID", "RSS MiB", "THREADS", "CPU s", "COMMAND"], rows)

    def summary(self, tracker: Tracker) -> None:
        summary = tracker.summary()
        if self.json:
            self.out.write(json.dumps({"type": "summary", "ts": time.time(),
                                       **summary}) + "\n")
            self.out.flush()
        if self.console is not None:
            rows = [[str(p.pid), _mib(p.peak_rss), str(p.peak_threads),
                     _mib(p.rss), f"{p.cpu_time:.2f}",
                     "yes" if p.gone else "", _oneline(p.cmdline)]
                    for p in tracker.peaks()]
            self._show(f"peaks over {summary['samples']} samples "
                       f"(stopped: {summary['stopped_by']}); tree peak "
                       f"{_mib(summary['peak_total_rss'])} MiB RSS",
                       ["PID", "PEAK MiB", "PEAK THR", "LAST MiB", "CPU s", "GONE",
                        "COMMAND"], rows)
            if summary["denied_pids"]:
                self.console.print(f"access denied, not counted: pids "
                                   f"{summary['denied_pids']}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    from offramp.memtrack import Target, Tracker

    if not args.pid and args.name is None:
        print("offramp memtrack: error: nothing to track: give --pid N "
              "and/or --name REGEX", file=sys.stderr)
        return 2
    try:
        target = Target(args.pid or (), args.name)
    except ValueError as exc:
        print(f"offramp memtrack: error: {exc}", file=sys.stderr)
        return 2
    if target.pattern is not None and not target.select():
        print("offramp memtrack: no process matches "
              f"{target.pattern.pattern!r} yet; waiting for one",
              file=sys.stderr)
    printer = _Printer(args)
    tracker = Tracker(target, args.interval, count=args.count,
                      duration=args.duration, on_sample=printer.sample)
    # Signal handlers can only be set from the main thread; a caller
    # driving run() from elsewhere keeps its own handling.
    main = threading.current_thread() is threading.main_thread()
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, _interrupt) for s in sigs} if main else {}
    try:
        try:
            tracker.start()
            while not tracker.wait(0.5):  # timed, so signals get through
                pass
        except KeyboardInterrupt:
            for s in old:  # a second signal must not cut the summary short
                signal.signal(s, signal.SIG_IGN)
            tracker.stop("signal")
        if isinstance(tracker.error, BrokenPipeError):
            raise tracker.error  # the reader went away: end quietly
        if tracker.error is not None:
            print("offramp memtrack: error while sampling: "
                  f"{tracker.error!r}", file=sys.stderr)
            return 1
        printer.summary(tracker)
        return 0
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
