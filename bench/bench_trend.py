"""Benchmark: ``offramp trend`` against the naive per-point ``git grep`` loop.

Builds a repository with ``git fast-import``: a tree of FILES modules, then
one commit a day for a year, each touching a few files (slowly removing
eventlet).  Then a year of weekly points is computed twice:

* naive: ``git grep -i -c eventlet <commit>`` per point, summed;
* ``offramp trend``: counts cached by blob/tree sha, one cat-file pipe.

Prints figures (and whether both agree); it is not a test.
Usage: python bench/bench_trend.py [--files 6000] [--days 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from offramp.migrate.trend import trend  # noqa: E402

START = dt.datetime(2024, 4, 1, 12, tzinfo=dt.timezone.utc)


def module(i: int, eventlet_lines: int, rev: int) -> bytes:
    head = "import eventlet\n" if eventlet_lines else "import threading\n"
    body = "".join(f"    eventlet.sleep({n})\n" for n in range(eventlet_lines))
    filler = "".join(f"    x{n} = {n} * {rev}  # filler\n" for n in range(120))
    return f'"""Module {i} rev {rev}."""\n{head}\n\ndef f():\n{body}{filler}'.encode()


def build(path: str, files: int, days: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    state = {i: (rng.choice([0, 0, 0, 0, 2, 5]), 0) for i in range(files)}
    proc = subprocess.Popen(["git", "-C", path, "fast-import", "--quiet"], stdin=subprocess.PIPE)
    out = proc.stdin

    def commit(day: int, changed: list[int]) -> None:
        when = int((START + dt.timedelta(days=day)).timestamp())
        msg = f"day {day}".encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"committer bench <b@example.com> {when} +0000\n".encode())
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        # fast-import continues refs/heads/main from its previous commit.
        for i in changed:
            lines, rev = state[i]
            data = module(i, lines, rev)
            out.write(f"M 100644 inline pkg{i % 50}/mod{i}.py\n".encode())
            out.write(b"data %d\n%s\n" % (len(data), data))

    commit(0, list(range(files)))
    for day in range(1, days + 1):
        changed = rng.sample(range(files), 8)
        for i in changed:
            lines, rev = state[i]
            state[i] = (max(0, lines - rng.choice([0, 1, 2])), rev + 1)
        commit(day, changed)
    out.close()
    proc.wait()


def naive(repo: str, commits: list[str]) -> list[int]:
    totals = []
    for sha in commits:
        out = subprocess.run(["git", "-C", repo, "grep", "-i", "-c", "eventlet", sha, "--",
                              ".", ":!releasenotes"], capture_output=True, text=True).stdout
        totals.append(sum(int(line.rsplit(":", 1)[1]) for line in out.splitlines()))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=6000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as repo:
        t0 = time.perf_counter()
        build(repo, args.files, args.days)
        print(f"repo: {args.files} files, {args.days + 1} commits "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        since = START.date().isoformat()
        t0 = time.perf_counter()
        points, counter = trend(repo, every="7d", since=since, utf8=True)
        trend_t = time.perf_counter() - t0
        t0 = time.perf_counter()
        expected = naive(repo, [p.commit for p in points])
        naive_t = time.perf_counter() - t0
        n = len(points)
        print(f"points: {n} weekly")
        print(f"naive git grep loop : {naive_t:7.2f} s  ({naive_t / n * 1000:.0f} ms/point)")
        print(f"offramp trend       : {trend_t:7.2f} s  ({trend_t / n * 1000:.0f} ms/point, "
              f"{counter.blob_reads} blob reads for {n} x {args.files} files)")
        print(f"speed-up: {naive_t / trend_t:.1f}x (a trend point costs "
              f"{trend_t / naive_t:.1%} of a git grep point)")
        print(f"counts agree: {[p.lines for p in points] == expected} "
              f"(first {expected[0]}, last {expected[-1]})")


if __name__ == "__main__":
    main()
