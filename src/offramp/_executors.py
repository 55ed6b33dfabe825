"""Named, per-process pools, created on first use, and views of them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent import futures
from typing import Any, ParamSpec, TypeVar

from offramp import _config, _mode, _runtime, _ticker
from offramp._pool import Future, Pool, PoolState, PoolStatistics, TaskRecord

LOG = logging.getLogger("offramp")

P = ParamSpec("P")
T = TypeVar("T")

_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def canonical_pool_name(name: object) -> str:
    """The one spelling of a pool name: lower case, ``_`` for ``-`` and ``.``.

    A pool's size comes from ``OFFRAMP_<MODE>_POOL_<NAME>``, and an
    environment variable cannot tell ``Default`` from ``default`` or
    ``a-b`` from ``a_b``; so neither does offramp, and such names are one
    pool.
    """
    if not isinstance(name, str) or not _POOL_NAME.match(name):
        raise ValueError(
            f"invalid pool name {name!r}; accepted: letters, digits, '_', "
            "'.' and '-', starting with a letter or digit (case and the "
            "separators do not count: 'Cells-A' is pool 'cells_a')"
        )
    return _config.pool_key(name)


def pool(name: str = "default") -> Pool:
    """The process's pool called ``name``, created on first use."""
    runtime = _runtime.get("offramp.get_executor()")
    found = runtime.pools.get(name)
    if found is not None:
        return found
    key = canonical_pool_name(name)
    with runtime.lock:
        found = runtime.pools.get(key)
        if found is None:
            if runtime.exiting:
                raise RuntimeError(
                    f"cannot create pool {key!r}: the interpreter is exiting "
                    "and offramp has shut its pools down")
            size = runtime.settings.pool_size(runtime.mode, key)
            found = runtime.backend.make_pool(runtime, key, size)
            runtime.pools[key] = found
            _mode.announce(runtime)
            LOG.info(
                "Created executor %s: %s with max_workers=%d",
                found.name, found.kind, size,
            )
            _ticker.ensure_started(runtime)
    return found


class Executor(futures.Executor):
    """A view of a shared named pool, which it never shuts down.

    ``get_executor()`` returns a new view on every call. Leaving a
    ``with`` block, or ``shutdown()``, closes the view only: it waits
    for the tasks submitted through it (``wait=True``), may cancel those
    not started (``cancel_futures=True``), and refuses new ones. The pool
    keeps serving every other caller, and ``shutdown_executors()`` alone
    stops it. A view finds its pool by name at each submit, so it stays
    valid across ``shutdown_executors()`` and in a forked child.
    """

    def __init__(self, pool_name: str) -> None:
        self._pool_name = pool_name
        self._closed = False
        self._pending: set[futures.Future[Any]] = set()

    @property
    def pool_name(self) -> str:
        return self._pool_name

    @property
    def name(self) -> str:
        """``<process>.<pool>``, as in log lines."""
        return self._pool().name

    @property
    def kind(self) -> str:
        return self._pool().kind

    @property
    def max_workers(self) -> int:
        return self._pool().max_workers

    @property
    def alive(self) -> bool:
        """False once this view is shut down; the pool may well be alive."""
        return not self._closed

    @property
    def statistics(self) -> PoolStatistics:
        return self._pool().statistics

    def state(self) -> PoolState:
        return self._pool().state()

    def running_tasks(self) -> list[TaskRecord]:
        return self._pool().running_tasks()

    def queued(self) -> int:
        return self._pool().queued()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._closed:
            raise RuntimeError(
                f"this view of pool {self._pool_name!r} was shut down; the pool "
                "itself still runs: call offramp.get_executor() for a new view")
        future = self._pool().submit(fn, *args, **kwargs)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        pending = list(self._pending)
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            futures.wait(pending)

    def _pool(self) -> Pool:
        return pool(self._pool_name)

    def __repr__(self) -> str:
        return f"<offramp.Executor view of pool {self._pool_name!r}>"


def get_executor(name: str = "default") -> Executor:
    """A view of the process's pool called ``name``, created on first use.

    Closing the view never closes the pool (see :class:`Executor`). The
    pool's size comes from ``OFFRAMP_<MODE>_POOL_<NAME>``, then the
    ``[offramp] <mode>_pool_sizes`` option, then the application's
    ``pool_defaults``, then offramp's defaults. Names are
    case-insensitive, and ``-`` and ``.`` count as ``_``.
    """
    return Executor(pool(name).pool_name)


def spawn(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Run ``fn`` on the default pool, with the caller's context."""
    return pool("default").submit(fn, *args, **kwargs)


def spawn_on(pool_name: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Run ``fn`` on the named pool, with the caller's context."""
    return pool(pool_name).submit(fn, *args, **kwargs)


def cooperative_yield() -> None:
    """Let other green threads run in eventlet mode; a no-op with threads."""
    _runtime.get("offramp.cooperative_yield()").backend.cooperative_yield()


class Target:
    """Where a DelayedExecutor or CappedExecutor sends its tasks.

    A pool name or a view names a shared pool, found by name at each
    submit like a view does; any other ``concurrent.futures.Executor`` is
    used as it is. Neither is ever shut down by them.
    """

    def __init__(self, target: str | futures.Executor) -> None:
        self.pool_name: str | None
        self.executor: futures.Executor | None
        if isinstance(target, str):
            self.pool_name, self.executor = pool(target).pool_name, None
        elif isinstance(target, Executor):
            self.pool_name, self.executor = target.pool_name, None
        elif isinstance(target, futures.Executor):
            self.pool_name, self.executor = None, target
        else:
            raise TypeError(
                f"invalid pool {target!r}; accepted: a pool name, an executor "
                "from offramp.get_executor(), or a concurrent.futures.Executor")

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        if self.pool_name is not None:
            return pool(self.pool_name).submit(fn, *args, **kwargs)
        assert self.executor is not None
        return self.executor.submit(fn, *args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.pool_name) if self.pool_name is not None else repr(self.executor)
