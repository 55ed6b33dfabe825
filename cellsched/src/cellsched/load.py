"""Load generation: N requests, C at a time, with latency percentiles.

Concurrency uses plain ``threading.Thread`` workers: native threads in
threading mode, green threads once eventlet has patched ``threading`` --
the same code measures both modes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import threading
import time
from collections import Counter
from typing import Callable

DEFAULT_FLAVOR = {"vcpus": 1, "memory_mb": 512, "disk_gb": 10}


@dataclasses.dataclass
class LoadResult:
    requests: int
    concurrency: int
    elapsed_s: float
    outcomes: Counter
    latencies_ms: list[float]
    selections: list[dict]
    errors: list[str]

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100.0 * len(data)))
        return data[rank - 1]

    def as_dict(self) -> dict:
        return {
            "requests": self.requests, "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed_s, 3),
            "throughput_rps": round(self.throughput, 1),
            "latency_ms": {"p50": round(self.percentile(50), 2),
                           "p95": round(self.percentile(95), 2),
                           "p99": round(self.percentile(99), 2),
                           "max": round(max(self.latencies_ms, default=0),
                                        2)},
            "outcomes": dict(self.outcomes),
            "instances_placed": len(self.selections),
            "sample_errors": self.errors[:5],
        }

    def render(self) -> str:
        d = self.as_dict()
        lat = d["latency_ms"]
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(
            d["outcomes"].items()))
        return (f"{d['requests']} requests, concurrency {d['concurrency']}, "
                f"{d['elapsed_s']:.2f}s: {d['throughput_rps']:.1f} req/s\n"
                f"latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  "
                f"p99 {lat['p99']:.1f}  max {lat['max']:.1f}\n"
                f"outcomes: {outcomes}; instances placed: "
                f"{d['instances_placed']}"
                + "".join(f"\nerror: {e}" for e in d["sample_errors"]))

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


def run_load(call: Callable[[dict], list], classify: Callable, *,
             requests: int, concurrency: int,
             flavor: dict | None = None, availability_zone: str | None = None,
             progress: bool = False) -> LoadResult:
    """Send ``requests`` select_destinations calls, ``concurrency`` at once.

    ``call(spec)`` returns the selections or raises; ``classify(exc)`` names
    the failure (NoValidHost, InvalidRequest, Timeout...).  Every request is
    accounted for in ``outcomes``.
    """
    for name, value in (("requests", requests),
                        ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got "
                             f"{value!r}")
    spec = {"flavor": dict(flavor or DEFAULT_FLAVOR), "num_instances": 1}
    if availability_zone:
        spec["availability_zone"] = availability_zone
    lock = threading.Lock()
    next_index = [0]
    outcomes: Counter = Counter()
    latencies: list[float] = []
    selections: list[dict] = []
    errors: list[str] = []
    done = [0]

    def worker():
        while True:
            with lock:
                if next_index[0] >= requests:
                    return
                next_index[0] += 1
            t0 = time.perf_counter()
            try:
                result = call(dict(spec))
                outcome = "selected"
            except Exception as exc:
                result, outcome = None, classify(exc)
                msg = f"{outcome}: {exc}"
            elapsed = (time.perf_counter() - t0) * 1000.0
            with lock:
                latencies.append(elapsed)
                outcomes[outcome] += 1
                done[0] += 1
                if result:
                    selections.extend(result)
                elif outcome not in ("selected", "NoValidHost"):
                    errors.append(msg[:300])

    threads = [threading.Thread(target=worker, name=f"load-{i}",
                                daemon=True)
               for i in range(min(concurrency, requests))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    if progress:
        _show_progress(threads, done, requests)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return LoadResult(requests, concurrency, elapsed, outcomes, latencies,
                      selections, errors)


def _show_progress(threads, done, total) -> None:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeElapsedColumn)
    from rich.console import Console
    with Progress(TextColumn("select_destinations"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task("load", total=total)
        while any(t.is_alive() for t in threads):
            bar.update(task, completed=done[0])
            time.sleep(0.2)
        bar.update(task, completed=done[0])
