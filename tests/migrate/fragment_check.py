"""Fragment analysis against whole-file analysis, on any tree.

``python tests/migrate/fragment_check.py TREE...`` analyses every ``.py``
file that mentions a needle both ways and prints each file whose findings
differ, then the totals and CPU time of both ways.  The suite runs the
same comparison on small trees (test_fragments.py); this script is for
real trees (nova, cinder sdists).
"""

from __future__ import annotations

import os
import sys
import time

from offramp.migrate._analyze import analyze, analyze_whole
from offramp.migrate._registry import needles


def candidates(root: str):
    """``(path, bytes)`` of the .py files a scan would analyse."""
    wanted = needles()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in (".git", "releasenotes"))
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, "rb") as fh:
                    data = fh.read()
                if any(n in data for n in wanted):
                    yield path, data


def summary(analysis) -> tuple:
    """What a user sees of an analysis, as comparable data."""
    return (analysis.error is None,
            tuple((f.line, f.col, f.rule.kind, f.rule.code, f.name, f.how, f.message,
                   f.rule.suggestion) for f in analysis.findings),
            tuple(analysis.imports))


def compare(files) -> tuple[list, float, float, int]:
    """``(differing paths, fragment CPU s, whole CPU s, findings)``."""
    differ, cpu_parts, cpu_whole, count = [], 0.0, 0.0, 0
    for path, data in files:
        t0 = time.process_time()
        parts = summary(analyze(data))
        t1 = time.process_time()
        whole = summary(analyze_whole(data))
        t2 = time.process_time()
        cpu_parts += t1 - t0
        cpu_whole += t2 - t1
        count += len(whole[1])
        if parts != whole:
            differ.append((path, parts, whole))
    return differ, cpu_parts, cpu_whole, count


def main(roots: list[str]) -> int:
    analyze(b"import eventlet\n")  # load the rules outside the timings
    status = 0
    for root in roots:
        files = list(candidates(root))
        differ, cpu_parts, cpu_whole, count = compare(files)
        for path, parts, whole in differ:
            status = 1
            print(f"DIFFERS {path}")
            for item in sorted(set(whole[1]) ^ set(parts[1])):
                print("   ", "whole" if item in whole[1] else "parts", item[:6])
        print(f"{root}: {len(files)} files, {count} findings, {len(differ)} differ; "
              f"CPU {cpu_parts:.3f} s in parts, {cpu_whole:.3f} s whole")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
