"""Pool statistics, as log lines operators grep for and as plain data.

The line formats are the ones nova's operators already search logs for,
so existing dashboards and habits keep working after the switch.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from offramp import _mode, _runtime
from offramp._pool import Pool

LOG = logging.getLogger("offramp")


def pool_snapshot(pool: Pool) -> dict[str, Any]:
    stats = pool.statistics
    state = pool.state()
    running = pool.running_tasks()
    abandoned = dict(pool.abandoned)
    return {
        "name": pool.name,
        "kind": pool.kind,
        "max_workers": state.max_workers,
        "workers": state.workers,
        "idle": state.idle,
        "queued": state.queued,
        "running": len(running),
        "executed": stats.executed,
        "failures": stats.failures,
        "cancelled": stats.cancelled,
        "runtime": stats.runtime,
        "abandoned": sum(abandoned.values()),
        "abandoned_by_target": {str(t): n for t, n in abandoned.items()},
        "hung": sum(1 for r in running if r.thresholds_crossed),
        "hung_reported": pool.hung_reported,
    }


def executor_snapshot() -> dict[str, Any]:
    """Every pool's figures as plain data, ready for JSON or metrics.

    ``long_lived`` lists the tasks of ``spawn_long_lived()``, which run
    outside the pools, with how long each has run.
    """
    runtime = _runtime.get("offramp.executor_snapshot()")
    now = time.monotonic()
    with runtime.lock:
        pools = dict(runtime.pools)
        long_lived = list(runtime.long_lived.values())
    return {
        "mode": runtime.mode,
        "process": runtime.process_name,
        "pid": os.getpid(),
        "pools": {name: pool_snapshot(pool) for name, pool in pools.items()},
        "long_lived": [{"task": t.task, "running_s": round(now - t.started, 3)}
                       for t in long_lived],
    }


def stats_lines(snapshot: dict[str, Any]) -> list[str]:
    lines = []
    for pool in snapshot["pools"].values():
        lines.append(
            f"Stats of {pool['name']} executor: ExecutorStatistics("
            f"failures={pool['failures']}, executed={pool['executed']}, "
            f"runtime={pool['runtime']:.2f}, cancelled={pool['cancelled']})"
        )
        lines.append(
            f"State of {pool['name']} {pool['kind']}: "
            f"max_workers: {pool['max_workers']}, workers: {pool['workers']}, "
            f"idle workers: {pool['idle']}, queued work: {pool['queued']}"
        )
        if pool["abandoned"]:
            lines.append(
                f"Abandoned tasks of {pool['name']} executor: "
                f"{pool['abandoned_by_target']}"
            )
    return lines


def log_executor_stats() -> None:
    """Log every pool's statistics and state lines now."""
    snapshot = executor_snapshot()
    _mode.announce(_runtime.get())
    for line in stats_lines(snapshot):
        LOG.info("%s", line)
