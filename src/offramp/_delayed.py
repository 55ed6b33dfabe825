"""Tasks that start after a delay, without holding a pool thread meanwhile."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, ParamSpec, TypeVar

from offramp._context import Carrier, Named
from offramp._executors import Target
from offramp._pool import Future

P = ParamSpec("P")
T = TypeVar("T")


class DelayedExecutor:
    """Run tasks on a pool after any per-task delay.

    ``pool`` is a pool name, an executor from ``offramp.get_executor()``,
    or any ``concurrent.futures.Executor``, which is never shut down here.
    Deadlines wait in a priority queue served by one scheduler thread (a
    green thread in eventlet mode), so a waiting task holds no pool thread
    and a short delay is never stuck behind a long one. A task can be
    cancelled through its Future until it starts. ``shutdown()`` stops the
    scheduler; with ``cancel_futures=True`` the waiting tasks are
    cancelled, otherwise it waits for them to come due and run.
    """

    def __init__(self, pool: str | futures.Executor = "default") -> None:
        target = Target(pool)  # fails now on a bad name or size
        self.pool_name = target.pool_name
        self._scheduler: Any = _scheduler_class()(target)
        self._lock = threading.Lock()
        self._waiting: set[futures.Future[Any]] = set()

    def submit_after(
        self, delay: float, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise ValueError(f"invalid delay {delay!r}; accepted: a number of seconds >= 0")
        future: Future[T] = self._scheduler.submit_after(
            delay, Carrier().bind(fn, *args, **kwargs))
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

    def _forget(self, future: futures.Future[Any]) -> None:
        with self._lock:
            self._waiting.discard(future)

    def __enter__(self) -> DelayedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(wait=True, cancel_futures=True)


class _Handoff(futures.Executor):
    """Hands due tasks to the target, which it never shuts down."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        # futurist submits its wrapper with the delayed Task, whose fn is
        # the caller's call: the name the watchdog should show.
        task = args[0] if args else None
        return self.target.submit(Named(getattr(task, "fn", fn), fn, args, kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The target is shared, or the caller's: never shut down here."""


@functools.cache
def _scheduler_class() -> type:
    # futurist's delayed mixin keeps the deadline heap and its scheduler
    # thread. Imported on first use, after bootstrap, so that futurist never
    # loads before the import guard or monkey patching.
    from futurist import DelayedExecutorMixin

    class Scheduler(DelayedExecutorMixin, _Handoff):
        @staticmethod
        def _get_future_object() -> Future[Any]:
            # The mixin's documented factory hook: callers get offramp's
            # Future, as from every other offramp executor.
            return Future()

    return Scheduler
