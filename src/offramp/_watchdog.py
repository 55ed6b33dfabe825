"""Reports tasks that run too long, with the stack they are stuck in.

A running thread cannot be killed, so the best offramp can do for a hung
task is to say early and precisely where it hangs.
"""

from __future__ import annotations

import logging
import time
import traceback

LOG = logging.getLogger("offramp")


def check(runtime) -> int:
    """Report every task that crossed a new threshold; return how many."""
    thresholds = runtime.settings.hung_task_thresholds
    now = time.monotonic()
    reported = 0
    with runtime.lock:
        pools = list(runtime.pools.values())
    for pool in pools:
        for record in pool.running_tasks():
            elapsed = now - record.started
            crossed = sum(1 for t in thresholds if elapsed >= t)
            if crossed <= record.thresholds_crossed:
                continue
            if record.thresholds_crossed == 0:
                pool.hung_reported += 1
            record.thresholds_crossed = crossed
            stack = stack_text(runtime, record)
            LOG.warning(
                "Task %s on pool %s has been running for %.1fs (threshold "
                "%gs); it may be hung. Its stack:\n%s",
                record.task, pool.name, elapsed, thresholds[crossed - 1], stack,
            )
            reported += 1
    return reported


def stack_text(runtime, record) -> str:
    """Where a running task is now, as a formatted stack."""
    frame = runtime.backend.stack_of(record.handle)
    return "".join(traceback.format_stack(frame)) if frame else "(stack unavailable)\n"
