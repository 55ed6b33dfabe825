"""Tasks that start after a delay, without holding a pool thread meanwhile."""

from __future__ import annotations

import functools
import threading
from concurrent import futures

from offramp._context import Carrier
from offramp._executors import get_executor


class DelayedExecutor:
    """Run tasks on a named pool after any per-task delay.

    Deadlines wait in a priority queue served by one scheduler thread (a
    green thread in eventlet mode), so a waiting task holds no pool thread
    and a short delay is never stuck behind a long one. A task can be
    cancelled through its Future until it starts. ``shutdown()`` stops the
    scheduler; with ``cancel_futures=True`` the waiting tasks are
    cancelled, otherwise it waits for them to come due and run.
    """

    def __init__(self, pool_name: str = "default") -> None:
        get_executor(pool_name)  # fail now on a bad name or size
        self.pool_name = pool_name
        self._scheduler = _scheduler_class()(pool_name)
        self._lock = threading.Lock()
        self._waiting: set[futures.Future] = set()

    def submit_after(self, delay: float, fn, /, *args, **kwargs) -> futures.Future:
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise ValueError(f"invalid delay {delay!r}; accepted: a number of seconds >= 0")
        future = self._scheduler.submit_after(delay, Carrier().bind(fn, *args, **kwargs))
        with self._lock:
            self._waiting.add(future)
        future.add_done_callback(self._forget)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            # futurist cancels only the tasks still in its heap, not the one
            # its scheduler is waiting on; cancelling every future here
            # covers that one too.
            with self._lock:
                waiting = list(self._waiting)
            for future in waiting:
                future.cancel()
        self._scheduler.shutdown(wait=wait, cancel_futures=cancel_futures)

    def _forget(self, future: futures.Future) -> None:
        with self._lock:
            self._waiting.discard(future)

    def __enter__(self) -> DelayedExecutor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown(wait=True, cancel_futures=True)


class _NamedPoolSubmitter(futures.Executor):
    """Hands due tasks to a shared named pool, which it never shuts down."""

    def __init__(self, pool_name: str) -> None:
        self.pool_name = pool_name

    def submit(self, fn, /, *args, **kwargs):
        return get_executor(self.pool_name).submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The named pool is shared; ``shutdown_executors()`` owns it."""


@functools.cache
def _scheduler_class():
    # futurist's delayed mixin keeps the deadline heap and its scheduler
    # thread. Imported on first use, after bootstrap, so that futurist never
    # loads before the import guard or monkey patching.
    from futurist import DelayedExecutorMixin

    class Scheduler(DelayedExecutorMixin, _NamedPoolSubmitter):
        pass

    return Scheduler
