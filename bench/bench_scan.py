"""Benchmark: ``offramp scan`` against ``grep -R -i eventlet | wc -l``.

Generates a large tree (Python modules, some importing eventlet, plus docs
and binary blobs), then times both, best of N runs.  Prints figures; it is
not a test.  Usage: python bench/bench_scan.py [--files 40000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from offramp.migrate.scan import scan  # noqa: E402

MODULE = '''\
"""Module {i}."""
import os
import logging
{imports}

LOG = logging.getLogger(__name__)


class Thing{i}:
    def run(self, items):
        for item in items:
            LOG.debug("item %s", item)
{uses}
        return os.path.join("a", "b")
'''


def generate(root: str, files: int, seed: int = 42) -> int:
    rng = random.Random(seed)
    size = 0
    for i in range(files):
        d = os.path.join(root, f"pkg{i % 40}", f"sub{i % 7}" if i % 3 else "tests")
        os.makedirs(d, exist_ok=True)
        kind = rng.random()
        if kind < 0.8:
            uses_eventlet = rng.random() < 0.15
            body = MODULE.format(
                i=i,
                imports="import eventlet\nfrom eventlet import greenthread" if uses_eventlet else "",
                uses="            eventlet.sleep(0)\n            greenthread.spawn(f)\n" * 3
                if uses_eventlet else "            pass\n" * 20)
            body += "\n".join(f"# filler line {n} " + "x" * 60 for n in range(rng.randint(50, 400)))
            name = f"mod{i}.py"
        elif kind < 0.95:
            body = ("Some prose about Eventlet and threads.\n" if rng.random() < 0.2 else "") + \
                "documentation line\n" * rng.randint(20, 300)
            name = f"doc{i}.rst"
        else:
            body = bytes(rng.getrandbits(8) for _ in range(4096)).decode("latin-1") + "eventlet"
            name = f"blob{i}.bin"
        path = os.path.join(d, name)
        with open(path, "w", encoding="latin-1") as fh:
            fh.write(body)
        size += len(body)
    return size


def best(fn, runs: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=40000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        size = generate(root, args.files)
        env = dict(os.environ, LC_ALL="C.UTF-8")

        def grep() -> int:
            out = subprocess.run(["grep", "-R", "-i", "eventlet", "--exclude-dir=releasenotes", "."],
                                 cwd=root, capture_output=True, env=env).stdout
            return out.count(b"\n")

        grep_t, grep_n = best(grep, args.runs)
        scan_t, result = best(lambda: scan(root, utf8=True), args.runs)
        print(f"tree: {args.files} files, {size / 1e6:.0f} MB")
        print(f"grep -R -i eventlet | wc -l : {grep_t:7.2f} s  lines={grep_n}")
        print(f"offramp scan (count+classify): {scan_t:7.2f} s  lines={result.lines} "
              f"importing={len(result.production) + len(result.test)} usages={len(result.usages)}")
        print(f"ratio scan/grep: {scan_t / grep_t:.1f}x   counts equal: {grep_n == result.lines}")


if __name__ == "__main__":
    main()
