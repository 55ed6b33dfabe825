"""``offramp scan`` and ``lint`` next to ``grep | wc -l`` on real trees from PyPI.

For each project (nova 31.0.0 and cinder 26.0.0 by default; sdists by
exact version, see ``_sdists``), side by side in one run, best of ``--runs``:

* ``grep --exclude-dir=releasenotes -i eventlet -R . | wc -l``;
* ``offramp scan --json .`` cold (an empty analysis cache: what a first run
  costs, writing the cache included) and warm (the cache a previous run
  left);
* ``offramp lint .`` cold and warm.

Every command is a fresh ``python -m offramp`` process, start-up included
(bytecode compiled, as in an installed package); the files themselves are
in the OS page cache for all of them alike.  The
goals are the issue's: cold scan at most 5x grep's wall time, cold lint
at most 10x.  Exits 1 when scan's line count differs from grep's or a goal
is missed.  Prints a Markdown table for docs/migration.md, then the CPU
time of each command's process tree (the figure to compare on a busy
machine).

Usage: python bench/bench_scan_corpus.py [--cache DIR] [--work DIR] [--runs 5] [--only nova]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from _sdists import extract, sdist

PROJECTS = [("nova", "31.0.0"), ("cinder", "26.0.0")]
GOALS = {"scan cold": 5.0, "lint cold": 10.0}
TIMED = ("scan cold", "scan warm", "lint cold", "lint warm")
GREP = "grep --exclude-dir=releasenotes -i eventlet -R . | wc -l"
ENV = dict(os.environ, LC_ALL="C.UTF-8")
# An installed offramp has its bytecode compiled; without it every run
# would compile the package again (a tenth of a second).
for name in ("OFFRAMP_NO_CACHE", "PYTHONDONTWRITEBYTECODE"):
    ENV.pop(name, None)


def timed(cmd: list[str], cwd: str, env: dict) -> tuple[float, subprocess.CompletedProcess, float]:
    """Wall time, the result, and the CPU time (user + sys) of the command's
    whole process tree (offramp's forked workers, grep's pipeline)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, out, cpu


def best(runs: int, once) -> tuple[float, subprocess.CompletedProcess, float]:
    """The fastest run by wall time, with the least CPU time of all runs
    (on a busy machine the two need not come from one run)."""
    results = [once() for _ in range(runs)]
    wall, out, _ = min(results, key=lambda r: r[0])
    return wall, out, min(r[2] for r in results)


def offramp(*args: str) -> list[str]:
    return [sys.executable, "-m", "offramp", *args]


def run_project(name: str, version: str, cache: str, work: str, runs: int) -> dict:
    tree = extract(sdist(name, version, cache), os.path.join(work, name))
    caches = os.path.join(work, f"{name}-caches")
    load = os.getloadavg()[0]

    def with_cache(path: str) -> dict:
        return dict(ENV, OFFRAMP_CACHE_DIR=path)

    def cold(*args: str):
        path = tempfile.mkdtemp(dir=caches)  # empty each time
        try:
            return timed(offramp(*args), tree, with_cache(path))
        finally:
            shutil.rmtree(path)

    def warm(*args: str):
        return timed(offramp(*args), tree, with_cache(os.path.join(caches, "warm")))

    os.makedirs(caches, exist_ok=True)
    grep = best(runs, lambda: timed(["sh", "-c", GREP], tree, ENV))
    rows = {"grep": grep}
    rows["scan cold"] = best(runs, lambda: cold("scan", "--json", "."))
    warm("scan", "--json", ".")  # fills the warm cache
    rows["scan warm"] = best(runs, lambda: warm("scan", "--json", "."))
    rows["lint cold"] = best(runs, lambda: cold("lint", "."))
    rows["lint warm"] = best(runs, lambda: warm("lint", "."))
    for what, (_, out, _) in rows.items():
        if out.returncode not in ((0, 1) if what.startswith("lint") else (0,)):
            raise SystemExit(f"{name}: {what} failed ({out.returncode}): "
                             f"{out.stderr.decode(errors='replace')}")
    scanned = json.loads(rows["scan warm"][1].stdout)
    return {
        "project": f"{name} {version}",
        "grep_lines": int(grep[1].stdout.strip()),
        "scan_lines": json.loads(rows["scan cold"][1].stdout)["lines"],
        "warm_lines": scanned["lines"],
        "files_importing": len(scanned["files_importing"]["production"])
        + len(scanned["files_importing"]["test"]),
        "usages": len(scanned["usages"]),
        "lint_findings": rows["lint cold"][1].stdout.count(b"\n"),
        "seconds": {what: t for what, (t, _, _) in rows.items()},
        "cpu": {what: c for what, (_, _, c) in rows.items()},
        "load": (load, os.getloadavg()[0]),
    }


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=os.environ.get("OFFRAMP_CORPUS_CACHE"),
                        help="directory of sdists (reused, downloads go there)")
    parser.add_argument("--work", help="scratch directory (default: a temporary one)")
    parser.add_argument("--runs", type=int, default=5, help="best of N runs each (5)")
    parser.add_argument("--only", action="append", help="project names to run")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"invalid --runs {args.runs}: expected at least 1")
    cache = args.cache or tempfile.mkdtemp(prefix="offramp-sdists-")
    work = args.work or tempfile.mkdtemp(prefix="offramp-corpus-")
    os.makedirs(cache, exist_ok=True)
    print(f"{dt.date.today()}; {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"command: python bench/bench_scan_corpus.py --runs {args.runs}; best of "
          f"{args.runs} runs each; grep: {GREP} (LC_ALL=C.UTF-8)")
    failed = []
    results = []
    for name, version in PROJECTS:
        if args.only and name not in args.only:
            continue
        r = run_project(name, version, cache, work, args.runs)
        results.append(r)
        if not r["grep_lines"] == r["scan_lines"] == r["warm_lines"]:
            failed.append(f"{r['project']}: scan counts {r['scan_lines']} (cold), "
                          f"{r['warm_lines']} (warm) lines, grep {r['grep_lines']}")
        grep_s = r["seconds"]["grep"]
        for what, goal in GOALS.items():
            ratio = r["seconds"][what] / grep_s
            if ratio > goal:
                failed.append(f"{r['project']}: {what} is {ratio:.1f}x grep, goal {goal:g}x")
    print("\n| project | lines (grep = scan) | grep | scan cold | scan warm | lint cold "
          "| lint warm | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        s, grep_s = r["seconds"], r["seconds"]["grep"]

        def cell(what: str) -> str:
            return f"{s[what]:.2f} s ({s[what] / grep_s:.1f}x)"

        same = "=" if r["grep_lines"] == r["scan_lines"] else "!="
        print(f"| {r['project']} | {r['grep_lines']} {same} {r['scan_lines']} | "
              f"{grep_s:.2f} s | {cell('scan cold')} | {cell('scan warm')} | "
              f"{cell('lint cold')} | {cell('lint warm')} | "
              f"{r['load'][0]:.1f} -> {r['load'][1]:.1f} |")
    # CPU time compares runs on a busy machine, where wall time does not.
    print("\nCPU time (user + sys of the process tree; least of the runs):\n")
    print("| project | grep | scan cold | scan warm | lint cold | lint warm |")
    print("|---|---|---|---|---|---|")
    for r in results:
        cells = [f"{r['cpu'][what]:.2f} s" for what in ("grep", *TIMED)]
        print(f"| {r['project']} | " + " | ".join(cells) + " |")
    print()
    for r in results:
        print(f"{r['project']}: {r['files_importing']} files import eventlet, "
              f"{r['usages']} usages, {r['lint_findings']} lint findings")
    for line in failed:
        print(f"FAILED: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
