"""Named, per-process executors, created on first use."""

from __future__ import annotations

import logging
import re
import time

from offramp import _runtime, _ticker

LOG = logging.getLogger("offramp")

_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def get_executor(name: str = "default"):
    """The process's executor called ``name``, created on first use.

    A futurist ``ThreadPoolExecutor`` in threading mode and a
    ``GreenThreadPoolExecutor`` in eventlet mode; both return the same
    Future. Its size comes from ``OFFRAMP_<MODE>_POOL_<NAME>``, then the
    ``[offramp] <mode>_pool_sizes`` option, then offramp's defaults.
    """
    runtime = _runtime.get("offramp.get_executor()")
    pool = runtime.pools.get(name)
    if pool is not None:
        return pool
    if not isinstance(name, str) or not _POOL_NAME.match(name):
        raise ValueError(
            f"invalid pool name {name!r}; accepted: letters, digits, '_', "
            "'.' and '-', starting with a letter or digit"
        )
    with runtime.lock:
        pool = runtime.pools.get(name)
        if pool is None:
            size = runtime.settings.pool_size(runtime.mode, name)
            pool = runtime.backend.make_pool(runtime, name, size)
            runtime.pools[name] = pool
            LOG.info(
                "Created executor %s: %s with max_workers=%d",
                pool.name, pool.kind, size,
            )
            _ticker.ensure_started(runtime)
    return pool


def shutdown_executors(wait: bool = True, timeout: float | None = None) -> bool:
    """Shut down every pool of this process; the next use creates new ones.

    Call it in the parent before forking workers, and when the service
    stops. With ``timeout``, waits at most that long for running tasks and
    returns False if some were still running.
    """
    runtime = _runtime.peek()
    if runtime is None:
        return True
    with runtime.lock:
        pools = list(runtime.pools.values())
        runtime.pools.clear()
    if timeout is None:
        for pool in pools:
            pool.shutdown(wait=wait)
            LOG.info("Shut down executor %s", pool.name)
        return True
    for pool in pools:
        pool.shutdown(wait=False)
    deadline = time.monotonic() + timeout
    busy = pools
    while busy and time.monotonic() < deadline:
        time.sleep(0.005)
        busy = [p for p in busy if p.running_tasks() or p.queued()]
    for pool in pools:
        if pool in busy:
            LOG.warning(
                "Executor %s still had %d running task(s) after %.1fs",
                pool.name, len(pool.running_tasks()), timeout,
            )
        else:
            LOG.info("Shut down executor %s", pool.name)
    return not busy


def spawn(fn, /, *args, **kwargs):
    """Run ``fn`` on the default pool, with the caller's context."""
    return get_executor("default").submit(fn, *args, **kwargs)


def spawn_on(pool_name: str, fn, /, *args, **kwargs):
    """Run ``fn`` on the named pool, with the caller's context."""
    return get_executor(pool_name).submit(fn, *args, **kwargs)


def cooperative_yield() -> None:
    """Let other green threads run in eventlet mode; a no-op with threads."""
    _runtime.get("offramp.cooperative_yield()").backend.cooperative_yield()
