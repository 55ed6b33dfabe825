"""Runtime benchmarks: idle shutdown, spawn overhead, scatter-gather.

Spawn is measured against a raw futurist submit and, in threading mode,
against the stdlib ``concurrent.futures.ThreadPoolExecutor`` that a
service would otherwise use.

Run once per mode (the mode is per process):

    OFFRAMP_CONCURRENCY=threading python bench/bench_runtime.py
    OFFRAMP_CONCURRENCY=eventlet python bench/bench_runtime.py

or both at once with ``make bench``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import os
import statistics
import time

import offramp

offramp.bootstrap()

import futurist  # noqa: E402  (after bootstrap, as in a service)

MODE = offramp.current_mode().value
GOAL = 1.25  # spawn's cost at most this times a raw futurist submit
POOLS = ("default", "scatter_gather", "api", "db", "rpc")


def idle_shutdown(rounds: int = 5) -> dict:
    """All five pools fully spun up and idle, then shut down."""
    timings = []
    for _ in range(rounds):
        for name in POOLS:
            pool = offramp.get_executor(name)
            size = pool.state().max_workers
            for f in [pool.submit(time.sleep, 0.001) for _ in range(min(size, 50))]:
                f.result()
        time.sleep(0.05)
        start = time.perf_counter()
        offramp.shutdown_executors(wait=True)
        timings.append(time.perf_counter() - start)
    result = {"offramp_all_pools_ms": statistics.median(timings) * 1000}
    if MODE == "threading":
        # What the same shutdown costs with futurist's own executor.
        raw = futurist.ThreadPoolExecutor(max_workers=10)
        for f in [raw.submit(time.sleep, 0.001) for _ in range(10)]:
            f.result()
        time.sleep(0.05)
        start = time.perf_counter()
        raw.shutdown(wait=True)
        result["futurist_one_pool_ms"] = (time.perf_counter() - start) * 1000
    return result


def spawn_overhead(rounds: int = 7, n_round_trip: int = 2000, n_batch: int = 5000) -> dict:
    """Per-task cost of offramp.spawn against a raw futurist submit.

    Measured side by side: every round times each executor once, in turn,
    so a change in the machine's load hits all of them alike; the figures
    are medians over the rounds, and the ratio is the median of the
    per-round ratios.
    """
    size = offramp.get_executor().state().max_workers
    raw_cls = futurist.ThreadPoolExecutor if MODE == "threading" else futurist.GreenThreadPoolExecutor
    raw = raw_cls(max_workers=size)
    contenders = {"spawn": offramp.spawn, "raw": raw.submit}
    stdlib = None
    if MODE == "threading":
        # The stdlib pool is what a service leaving eventlet reaches for
        # first; under eventlet it would be green and not comparable.
        stdlib = concurrent.futures.ThreadPoolExecutor(max_workers=size)
        contenders["stdlib"] = stdlib.submit

    def noop():
        return None

    def round_trip(submit) -> float:
        start = time.perf_counter()
        for _ in range(n_round_trip):
            submit(noop).result()
        return (time.perf_counter() - start) / n_round_trip * 1e6

    def batch(submit) -> float:
        start = time.perf_counter()
        for f in [submit(noop) for _ in range(n_batch)]:
            f.result()
        return (time.perf_counter() - start) / n_batch * 1e6

    for submit in contenders.values():
        batch(submit)  # warm up: every pool has its workers
    figures: dict = {"rounds": rounds}
    for kind, measure in (("round_trip", round_trip), ("batch", batch)):
        runs: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(rounds):
            for name, submit in contenders.items():
                runs[name].append(measure(submit))
        for name, values in runs.items():
            figures[f"{name}_{kind}_us"] = statistics.median(values)
        figures[f"{kind}_ratio"] = statistics.median(
            s / r for s, r in zip(runs["spawn"], runs["raw"]))
        if stdlib is not None:
            figures[f"{kind}_vs_stdlib_ratio"] = statistics.median(
                s / r for s, r in zip(runs["spawn"], runs["stdlib"]))
    raw.shutdown()
    if stdlib is not None:
        stdlib.shutdown()
    return figures


def scatter_gather(latency: float = 0.05) -> list[dict]:
    """Wall time over N targets of fixed latency, against the ideal."""
    rows = []
    for n in (5, 50, 500):
        for size in sorted({5, n}):
            name = f"sg_{n}_{size}"
            os.environ[f"OFFRAMP_{MODE.upper()}_POOL_{name.upper()}"] = str(size)
            offramp.get_executor(name)
            offramp.scatter_gather(range(size), lambda t: None, timeout=60, pool=name)  # warm
            start = time.perf_counter()
            results = offramp.scatter_gather(range(n), lambda t: time.sleep(latency), timeout=60, pool=name)
            wall = time.perf_counter() - start
            assert not any(offramp.is_failure(v) for v in results.values())
            # The ideal is the slowest target's latency; a pool smaller than
            # the fan-out cannot beat ceil(targets / pool) rounds of it.
            bound = -(-n // size) * latency
            rows.append({"targets": n, "pool_size": size, "wall_ms": wall * 1000,
                         "ideal_ms": latency * 1000, "ratio": wall / latency,
                         "pool_bound_ms": bound * 1000, "ratio_to_bound": wall / bound})
    offramp.shutdown_executors()
    return rows


def main() -> None:
    # The batch queues on purpose: the saturation warning is expected.
    logging.getLogger("offramp").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    figures = {
        "mode": MODE,
        "idle_shutdown": idle_shutdown(),
        "spawn": spawn_overhead(),
        "scatter_gather": scatter_gather(),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"== {MODE} mode ==")
    s = figures["idle_shutdown"]
    print(f"idle shutdown of {len(POOLS)} pools: {s['offramp_all_pools_ms']:.2f} ms"
          + (f" (raw futurist, one pool: {s['futurist_one_pool_ms']:.0f} ms)"
             if "futurist_one_pool_ms" in s else ""))
    s = figures["spawn"]
    print(f"spawn against a raw futurist submit, side by side, median of {s['rounds']} rounds "
          f"(goal: spawn/raw <= {GOAL}):")
    for kind, label in (("round_trip", "round trip"), ("batch", "batch     ")):
        line = (f"  {label}: spawn {s[f'spawn_{kind}_us']:.1f} us, raw futurist "
                f"{s[f'raw_{kind}_us']:.1f} us, spawn/raw {s[f'{kind}_ratio']:.2f}")
        if f"stdlib_{kind}_us" in s:
            line += (f"; stdlib ThreadPoolExecutor {s[f'stdlib_{kind}_us']:.1f} us, "
                     f"spawn/stdlib {s[f'{kind}_vs_stdlib_ratio']:.2f}")
        print(line)
    print(f"  load average (1 min): {os.getloadavg()[0]:.2f}")
    print("scatter-gather, 50 ms per target:")
    print("  targets  pool  wall ms  ideal ms  wall/ideal  pool bound ms  wall/bound")
    for row in figures["scatter_gather"]:
        print(f"  {row['targets']:>7}  {row['pool_size']:>4}  {row['wall_ms']:>7.1f}  "
              f"{row['ideal_ms']:>8.1f}  {row['ratio']:>10.2f}  {row['pool_bound_ms']:>13.1f}"
              f"  {row['ratio_to_bound']:>10.2f}")


if __name__ == "__main__":
    main()
