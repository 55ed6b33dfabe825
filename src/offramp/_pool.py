"""What every offramp pool adds to its futurist executor, in both modes.

A backend's ``Pool`` is ``TrackedPool`` mixed into a futurist executor. The
mixin names the pool, carries the submitter's context into each task,
warns when a task has to queue, keeps the start time of every running
task for the watchdog, and guards against a parent task blocking on a
child queued behind it on the same full pool.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
from concurrent import futures

from offramp._context import Carrier
from offramp._errors import PoolDeadlockError

LOG = logging.getLogger("offramp")


@dataclasses.dataclass(frozen=True)
class PoolState:
    """A pool's occupancy, in the terms nova operators already read."""

    max_workers: int
    workers: int
    idle: int
    queued: int


class TaskRecord:
    """One running task: what it is, when it started, where its stack is."""

    __slots__ = ("task", "pool", "started", "handle", "thresholds_crossed")

    def __init__(self, task: str, pool: TrackedPool, handle) -> None:
        self.task = task
        self.pool = pool
        self.started = time.monotonic()
        self.handle = handle
        self.thresholds_crossed = 0


def describe(fn) -> str:
    """A task's name for logs: its qualified name where it has one."""
    target = fn
    while hasattr(target, "func"):  # functools.partial, offramp's Bound
        target = target.func
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{name}" if module else name


def _caller_outside_offramp() -> str:
    frame = sys._getframe(1)
    package = os.path.dirname(__file__)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
    if frame is None:
        return "unknown"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class GuardedFuture:
    """Future mixin: waiting on a child of the same full pool is reported."""

    _pool: TrackedPool | None = None
    _task: str = "?"

    def result(self, timeout=None):
        if self._pool is not None and not self.done():
            self._pool.check_wait(self)
        return super().result(timeout)

    def exception(self, timeout=None):
        if self._pool is not None and not self.done():
            self._pool.check_wait(self)
        return super().exception(timeout)


class Future(GuardedFuture, futures.Future):
    """The Future of every offramp pool, in both modes.

    A plain ``concurrent.futures.Future`` is enough under eventlet too:
    monkey patching makes its condition green.
    """


class TrackedPool:
    """Mixin for a futurist executor; the backend defines ``state()``."""

    kind = "Executor"

    def _init_tracking(self, runtime, pool_name: str) -> None:
        self.pool_name = pool_name
        self.name = f"{runtime.process_name}.{pool_name}"
        self._runtime = runtime
        self._running: dict[int, TaskRecord] = {}
        self._running_lock = threading.Lock()
        self._last_saturation_warning: float | None = None
        self.hung_reported = 0
        # Where the pool was first asked for, for leak reports in tests.
        self.created_at = _caller_outside_offramp()

    def submit(self, fn, /, *args, **kwargs):
        task = describe(fn)
        if self.free_slots() <= 0:
            self._warn_saturated(task)
        future = super().submit(self._run, task, Carrier(), fn, args, kwargs)
        future._pool = self
        future._task = task
        return future

    def _run(self, task: str, carrier: Carrier, fn, args, kwargs):
        record = TaskRecord(task, self, self._runtime.backend.current_task_handle())
        key = id(record)
        local = self._runtime.local
        parent = getattr(local, "record", None)
        with self._running_lock:
            self._running[key] = record
        local.record = record
        try:
            return carrier.run(fn, *args, **kwargs)
        finally:
            local.record = parent
            with self._running_lock:
                del self._running[key]

    def free_slots(self) -> int:
        """Workers left for new work: neither running a task nor claimed by
        a queued one. Counted from offramp's own records, the same way in
        both modes."""
        with self._running_lock:
            running = len(self._running)
        state = self.state()
        return state.max_workers - running - state.queued

    def running_tasks(self) -> list[TaskRecord]:
        with self._running_lock:
            return list(self._running.values())

    def _warn_saturated(self, task: str) -> None:
        now = time.monotonic()
        last = self._last_saturation_warning
        interval = self._runtime.settings.saturation_warning_interval
        if last is not None and now - last < interval:
            return
        self._last_saturation_warning = now
        state = self.state()
        LOG.warning(
            "Pool %s has no idle worker, so task %s is queued "
            "(max_workers: %d, workers: %d, queued work: %d). The pool may "
            "be too small, or hold stuck threads.",
            self.name, task, state.max_workers, state.workers, state.queued + 1,
        )

    def check_wait(self, child: GuardedFuture) -> None:
        """Called before a caller blocks on ``child``'s result."""
        parent = getattr(self._runtime.local, "record", None)
        if parent is None or parent.pool is not self:
            return
        # The child itself is counted as queued: below zero, nothing is left
        # to run it but the workers already busy.
        if child.running() or self.free_slots() >= 0:
            return
        message = (
            f"Possible deadlock in pool {self.name}: task {parent.task} is "
            f"blocking on the result of its child {child._task}, which is "
            "queued on the same pool while the pool has no idle worker. "
            "Submit children to a different pool, or do not block on them "
            "from inside a pool task."
        )
        LOG.error(message)
        if self._runtime.settings.deadlock_action == "raise":
            raise PoolDeadlockError(message)
