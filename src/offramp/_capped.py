"""Per-kind caps inside one shared pool.

A service may want at most 10 builds and 5 snapshots at once while both
share one pool. A task over its kind's cap waits in a queue here, not on
a pool thread, so capped work never starves the other kinds.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent import futures
from typing import Any, ParamSpec, TypeVar

from offramp._context import Bound, Carrier
from offramp._executors import Target
from offramp._pool import Future, current_task_future

P = ParamSpec("P")
T = TypeVar("T")


class CappedExecutor:
    """Submit tasks by kind to a pool, at most ``limits[kind]`` at once.

    ``pool`` is a pool name, an executor from ``offramp.get_executor()``,
    or any ``concurrent.futures.Executor``, which is never shut down here.
    With ``default_limit``, kinds not named in ``limits`` are accepted
    too, each capped at that number; without it they are refused.
    """

    def __init__(
        self,
        pool: str | futures.Executor,
        limits: Mapping[str, int],
        *,
        default_limit: int | None = None,
    ) -> None:
        if not isinstance(limits, Mapping) or not (limits or default_limit):
            raise ValueError(
                f"invalid limits {limits!r}; accepted: a non-empty mapping of "
                "kind name to a whole number >= 1"
            )
        for kind, limit in [*limits.items(), ("(default)", default_limit or 1)]:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(
                    f"invalid limit {limit!r} for kind {kind!r}; accepted: a "
                    "whole number >= 1"
                )
        self._target = Target(pool)  # fails now on a bad name or size
        self.pool_name = self._target.pool_name
        self.limits: dict[Hashable, int] = {kind: n for kind, n in limits.items()}
        self.default_limit = default_limit
        self._lock = threading.Lock()
        self._running: collections.defaultdict[Hashable, int] = collections.defaultdict(int)
        self._waiting: collections.defaultdict[
            Hashable, collections.deque[tuple[Future[Any], Bound]]] = collections.defaultdict(
                collections.deque)

    def submit(self, kind: Hashable, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        limit = self.limits.get(kind, self.default_limit)
        if limit is None:
            raise ValueError(
                f"unknown kind {kind!r}; accepted: {', '.join(map(repr, self.limits))}"
            )
        future: Future[T] | None = None
        with self._lock:
            start = self._running[kind] < limit
            if start:
                self._running[kind] += 1
            else:
                future = Future()
                self._waiting[kind].append((future, Carrier().bind(fn, *args, **kwargs)))
        if future is not None:
            return future
        if self.pool_name is None:
            # Another executor's futures are not offramp's: relay to one.
            future = Future()
            self._start(kind, future, Carrier().bind(fn, *args, **kwargs))
            return future
        # Under the cap the pool's own Future serves: it can be cancelled
        # while queued there, and costs nothing extra.
        try:
            inner = self._target.submit(fn, *args, **kwargs)
        except BaseException:
            self._next(kind)
            raise
        inner.add_done_callback(lambda done: self._next(kind))
        return inner  # type: ignore[return-value]  # an offramp pool's Future

    def stats(self) -> dict[Hashable, dict[str, int | None]]:
        with self._lock:
            kinds = [*self.limits, *(k for k in self._running if k not in self.limits)]
            return {
                kind: {"limit": self.limits.get(kind, self.default_limit),
                       "running": self._running.get(kind, 0),
                       "waiting": len(self._waiting.get(kind, ()))}
                for kind in kinds
            }

    def _start(self, kind: Hashable, future: Future[Any], call: Bound) -> None:
        if future.cancelled():
            self._next(kind)
            return
        try:
            inner = self._target.submit(_StartOrSkip(future, call))
        except BaseException as exc:
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
            self._next(kind)
            return
        inner.add_done_callback(lambda done: self._relay(kind, future, done))

    def _relay(self, kind: Hashable, future: Future[Any], inner: futures.Future[Any]) -> None:
        if not future.cancelled():
            error = inner.exception()
            if error is None:
                future.set_result(inner.result())
            else:
                future.set_exception(error)
        self._next(kind)

    def _next(self, kind: Hashable) -> None:
        """A slot of ``kind`` is free: give it to the next waiting task."""
        with self._lock:
            waiting = self._waiting[kind]
            while waiting and waiting[0][0].cancelled():
                waiting.popleft()
            if not waiting:
                self._running[kind] -= 1
                if not self._running[kind] and kind not in self.limits:
                    # Kinds met through default_limit come and go; keep no
                    # bookkeeping for idle ones.
                    del self._running[kind]
                    del self._waiting[kind]
                return
            future, call = waiting.popleft()
        self._start(kind, future, call)


class _StartOrSkip:
    """Runs the call unless its Future was cancelled while it sat queued in
    the pool, so a capped task can be cancelled until it really starts."""

    __slots__ = ("future", "func")

    def __init__(self, future: Future[Any], func: Bound) -> None:
        self.future = future
        self.func = func  # followed by describe() for the task's name

    def __call__(self) -> object:
        # Before the task shows as running: whoever gives up on it then
        # finds the pool task that runs it (see _pool.mark_abandoned).
        self.future._inner = current_task_future()
        if self.future.set_running_or_notify_cancel():
            return self.func()
        return None
