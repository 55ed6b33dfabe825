"""Per-kind caps inside one shared pool.

A service may want at most 10 builds and 5 snapshots at once while both
share one pool. A task over its kind's cap waits in a queue here, not on
a pool thread, so capped work never starves the other kinds.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from concurrent import futures

from offramp._context import Carrier
from offramp._executors import get_executor


class CappedExecutor:
    """Submit tasks by kind to a named pool, at most ``limits[kind]`` at once."""

    def __init__(self, pool_name: str, limits: Mapping[str, int]) -> None:
        if not isinstance(limits, Mapping) or not limits:
            raise ValueError(
                f"invalid limits {limits!r}; accepted: a non-empty mapping of "
                "kind name to a whole number >= 1"
            )
        for kind, limit in limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(
                    f"invalid limit {limit!r} for kind {kind!r}; accepted: a "
                    "whole number >= 1"
                )
        get_executor(pool_name)  # fail now on a bad name or size
        self.pool_name = pool_name
        self.limits = dict(limits)
        self._lock = threading.Lock()
        self._running = dict.fromkeys(self.limits, 0)
        self._waiting = {kind: collections.deque() for kind in self.limits}

    def submit(self, kind: str, fn, /, *args, **kwargs) -> futures.Future:
        if kind not in self.limits:
            raise ValueError(
                f"unknown kind {kind!r}; accepted: {', '.join(map(repr, self.limits))}"
            )
        future = futures.Future()
        call = Carrier().bind(fn, *args, **kwargs)
        with self._lock:
            start = self._running[kind] < self.limits[kind]
            if start:
                self._running[kind] += 1
            else:
                self._waiting[kind].append((future, call))
        if start:
            self._start(kind, future, call)
        return future

    def stats(self) -> dict:
        with self._lock:
            return {
                kind: {"limit": limit, "running": self._running[kind],
                       "waiting": len(self._waiting[kind])}
                for kind, limit in self.limits.items()
            }

    def _start(self, kind, future, call) -> None:
        if not future.set_running_or_notify_cancel():
            self._next(kind)
            return
        try:
            inner = get_executor(self.pool_name).submit(call)
        except BaseException as exc:
            future.set_exception(exc)
            self._next(kind)
            return
        inner.add_done_callback(lambda done: self._relay(kind, future, done))

    def _relay(self, kind, future, inner) -> None:
        error = inner.exception()
        if error is None:
            future.set_result(inner.result())
        else:
            future.set_exception(error)
        self._next(kind)

    def _next(self, kind) -> None:
        """A slot of ``kind`` is free: give it to the next waiting task."""
        with self._lock:
            waiting = self._waiting[kind]
            while waiting and waiting[0][0].cancelled():
                waiting.popleft()
            if not waiting:
                self._running[kind] -= 1
                return
            future, call = waiting.popleft()
        self._start(kind, future, call)
