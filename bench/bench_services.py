"""Benchmark: ``offramp services`` on the nova 31.0.0 sdist from PyPI.

Times the whole command as a user runs it (a fresh ``python -m offramp
services`` process, interpreter start-up included), best and median of N
runs, next to its own phases measured in one process: grimp's graph, the
string edges, the closures and the scan.  It also checks what the command
must show on nova: every console and WSGI script of setup.cfg, and
nova.compute.manager under nova-compute through a string edge.

The sdist is fetched with ``pip download`` (or taken from --cache-dir /
OFFRAMP_CORPUS_DIR when it already holds nova-31.0.0.tar.gz) and unpacked
in a temporary directory.  Prints figures; it is not a test.
Usage: python bench/bench_services.py [--runs 5] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from offramp.migrate import _project, services  # noqa: E402

SDIST = "nova-31.0.0.tar.gz"


def fetch(cache_dir: str | None, work: str) -> str:
    """The sdist's path: from the cache directory, else downloaded into it (or ``work``)."""
    where = cache_dir or work
    path = os.path.join(where, SDIST)
    if not os.path.isfile(path):
        os.makedirs(where, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", "nova==31.0.0", "-d", where], check=True)
    return path


def unpack(sdist: str, work: str) -> str:
    with tarfile.open(sdist) as tar:
        tar.extractall(work, filter="data")
    return os.path.join(work, "nova-31.0.0")


def timed_cli(root: str) -> tuple[float, dict]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "offramp", "services", root, "--json"],
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(out.stdout)


def phases(root: str) -> dict[str, float]:
    """The same work in this process, one phase at a time."""
    figures = {}
    started = time.perf_counter()
    project = _project.load(root)
    graph = services._Modules(project)
    figures["grimp graph"] = time.perf_counter() - started
    started = time.perf_counter()
    strings = services._StringEdges(graph, {ep.name for ep in project.services}, "per-service")
    figures["string edges"] = time.perf_counter() - started
    started = time.perf_counter()
    closures = [services._closure(ep.module, graph, strings, ep.name)
                for ep in project.services if ep.module in graph.names]
    figures["closures"] = time.perf_counter() - started
    started = time.perf_counter()
    services._usage(graph, set().union(*closures))
    figures["scan"] = time.perf_counter() - started
    return figures


def check(root: str, data: dict) -> list[str]:
    cfg = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    cfg.optionxform = str
    cfg.read(os.path.join(root, "setup.cfg"))
    declared = [line.split("=")[0].strip() for group in ("console_scripts", "wsgi_scripts")
                for line in cfg.get("entry_points", group).splitlines() if line.strip()]
    listed = [s["name"] for s in data["services"]]
    compute = next(s for s in data["services"] if s["name"] == "nova-compute")
    manager = [m for m in compute["eventlet_modules"] if m["module"] == "nova.compute.manager"]
    chain = " ".join(("" if h.get("kind") is None else
                      {"import": "-> ", "package": "^ ", "string": "~> "}[h["kind"]]) + h["module"]
                     for h in manager[0]["chain"]) if manager else "(none)"
    return [
        f"every console/WSGI script listed: {listed == declared} ({len(listed)} of "
        f"{len(declared)})",
        f"nova-compute loads nova.compute.manager through a string edge: "
        f"{bool(manager) and manager[0]['string_edges'] > 0}: {chain}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache-dir", default=os.environ.get("OFFRAMP_CORPUS_DIR"),
                        help="directory holding (or to receive) nova-31.0.0.tar.gz")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-services-") as work:
        root = unpack(fetch(args.cache_dir, work), work)
        times, data = [], None
        for _ in range(args.runs):
            elapsed, data = timed_cli(root)
            times.append(elapsed)
        split = phases(root)
        load = os.getloadavg()
        print(f"tree: nova 31.0.0 sdist, {data['modules']} modules, "
              f"{len(data['services'])} entry points, {data['string_edges']} string edges")
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
        print(f"offramp services (whole command, {args.runs} runs): best {min(times):.2f} s, "
              f"median {statistics.median(times):.2f} s   goal <= 5 s: "
              f"{'met' if statistics.median(times) <= 5 else 'NOT met'}")
        total = sum(split.values())
        print("phases in one process: " + ", ".join(
            f"{name} {seconds:.2f} s ({seconds / total:.0%})" for name, seconds in split.items()))
        for line in check(root, data):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
