"""Stopping: offramp never waits for a task without a bound.

A running thread cannot be killed, so the promise is about waiting:

- ``shutdown_executors()`` closes every pool and stops the periodic
  workers. Queued tasks still run; then it waits up to ``timeout`` (the
  ``shutdown_timeout`` setting, 5 s by default) for whatever is still
  running. Tasks that scatter-gather abandoned are not waited for: nobody
  will read their result. What still runs at the deadline is logged with
  its stack and left behind, and what is still queued then is cancelled.
- At interpreter exit the same happens, with the same bound. Workers are
  daemon threads (green threads in eventlet mode), so once the wait is
  over the process exits, whatever its tasks are stuck in.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from offramp import _runtime, _watchdog
from offramp._pool import Pool, Worker

LOG = logging.getLogger("offramp")

_registered = threading.Lock()
_hook_installed = False


def shutdown_executors(
    wait: bool = True, timeout: float | None = None, *, cancel_futures: bool = False
) -> bool:
    """Shut down every pool of this process; the next use creates new ones.

    Call it in the parent before forking workers, and when the service
    stops. Queued tasks still run unless ``cancel_futures``. With ``wait``
    it waits at most ``timeout`` seconds (default: the ``shutdown_timeout``
    setting, 5 s) for running tasks, except those scatter-gather
    abandoned, and returns False if some were still running: those are
    logged with their stacks and left to finish on their own. Periodic
    workers started by ``start_periodic()`` are stopped too.
    """
    runtime = _runtime.peek()
    if runtime is None:
        return True
    limit = runtime.settings.shutdown_timeout if timeout is None else _seconds(timeout)
    with runtime.lock:
        pools = list(runtime.pools.values())
        runtime.pools.clear()
        periodic = list(runtime.periodic_workers)
        runtime.periodic_workers.clear()
    for worker in periodic:
        worker.stop()
    for pool in pools:
        pool.close(cancel_queued=cancel_futures)
    if not wait:
        for pool in pools:
            LOG.info("Shut down executor %s without waiting for its tasks", pool.name)
        return True
    deadline = time.monotonic() + limit
    for worker in periodic:
        worker.wait(max(0.0, deadline - time.monotonic()))
    busy = _wait_for(pools, deadline)
    for pool in pools:
        _report(runtime, pool, [w for w in busy if w.pool is pool], limit)
    return not busy


def _wait_for(pools: list[Pool], deadline: float) -> list[Worker]:
    """Workers still busy at the deadline; joins, never polls an idle pool.

    The others are joined too: a worker leaves its pool's list just before
    its thread ends, and the caller may fork or count threads next.
    """
    workers = [w for pool in pools for w in pool.workers()]
    while True:
        busy = [w for pool in pools for w in pool.busy_workers()]
        remaining = deadline - time.monotonic()
        if not busy:
            for worker in workers:
                record, thread = worker.record, worker.thread
                if thread is not None and not (record is not None and record.abandoned):
                    thread.join(max(0.0, deadline - time.monotonic()))
            return busy
        if remaining <= 0:
            return busy
        thread = busy[0].thread
        if thread is not None and thread.is_alive():
            # Bounded, so a task abandoned meanwhile is noticed.
            thread.join(min(remaining, 0.05))
        else:
            time.sleep(min(remaining, 0.005))


def _report(runtime: _runtime.Runtime, pool: Pool, busy: list[Worker], limit: float) -> None:
    abandoned = [r for r in pool.running_tasks() if r.abandoned]
    if abandoned:
        LOG.info(
            "Executor %s leaves %d abandoned scatter-gather task(s) running: %s",
            pool.name, len(abandoned), ", ".join(r.task for r in abandoned),
        )
    if not busy:
        LOG.info("Shut down executor %s", pool.name)
        return
    cancelled = pool.cancel_queued()
    now = time.monotonic()
    lines = []
    for worker in busy:
        record = worker.record
        if record is None:
            lines.append("a worker between two tasks")
        else:
            lines.append(
                f"task {record.task}, running for {now - record.started:.1f}s, "
                f"in:\n{_watchdog.stack_text(runtime, record)}"
            )
    LOG.warning(
        "Executor %s still had %d running task(s) after %.1fs; they are left "
        "running and will not keep the process from exiting%s.\n%s",
        pool.name, len(busy), limit,
        f"; {cancelled} queued task(s) cancelled" if cancelled else "",
        "\n".join(lines),
    )


def _seconds(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ValueError(
            f"invalid timeout {timeout!r}; accepted: a number of seconds >= 0, "
            "or None for the shutdown_timeout setting")
    return float(timeout)


def install_exit_hook() -> None:
    """At interpreter exit, shut the pools down with the bounded wait."""
    global _hook_installed
    with _registered:
        if not _hook_installed:
            atexit.register(_at_exit)
            _hook_installed = True


def _at_exit() -> None:
    runtime = _runtime.peek()
    if runtime is None or runtime.pid != os.getpid():
        return
    runtime.exiting = True
    if runtime.pools or runtime.periodic_workers:
        shutdown_executors(wait=True)
