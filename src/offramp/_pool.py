"""offramp's pool: workers it owns, and what it records about each task.

Both modes use this one pool; the backend only says how a worker starts,
how to find a task's stack and how to report the pool's state. offramp owns its workers rather than
subclassing futurist's executors for three reasons:

- futurist joins every worker thread of its ``ThreadPoolExecutor`` in an
  atexit hook, so one hung task kept the interpreter from ever exiting;
  offramp's workers are daemon threads, and what happens to their tasks
  at exit is decided by ``shutdown_executors()`` with a bounded wait.
- What offramp added (the caller's context, per-task records for the
  watchdog, the saturation warning, the deadlock guard) sat on top of
  futurist's own bookkeeping and reached into its private attributes;
  doing it once here costs less than futurist's submit alone.
- A worker waits on a queue without a timeout, so an idle pool costs no
  wake-ups and shuts down at once.

A worker is started only when no idle worker can take the task, up to the
pool's size; workers then stay until shutdown. In eventlet mode they are
green threads, and the queue and locks are green too: the patched
``queue`` and ``threading`` modules are looked up when the pool is made.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from types import FrameType
from typing import Any, ParamSpec, Protocol, TypeVar

from offramp import _runtime
from offramp._context import Carrier
from offramp._errors import PoolDeadlockError

LOG = logging.getLogger("offramp")

P = ParamSpec("P")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class PoolState:
    """A pool's occupancy, in the terms nova operators already read."""

    max_workers: int
    workers: int
    idle: int
    queued: int


@dataclasses.dataclass(frozen=True)
class PoolStatistics:
    """What the pool's tasks did, as futurist's ExecutorStatistics counts it."""

    failures: int = 0
    executed: int = 0
    runtime: float = 0.0
    cancelled: int = 0


class Future(futures.Future[T]):
    """The Future of every offramp task, in both modes.

    A plain ``concurrent.futures.Future``: monkey patching makes its
    condition green under eventlet. Waiting on it from a task of the same
    full pool is reported (see ``Pool.check_wait``).
    """

    _pool: Pool | None = None
    _fn: Callable[..., object] | None = None
    # Set by scatter-gather when it gives up on the running task; the
    # future of a capped task points at the pool task that runs it.
    _abandoned = False
    _inner: Future[Any] | None = None

    def result(self, timeout: float | None = None) -> T:
        if self._pool is not None and not self.done():
            self._pool.check_wait(self)
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._pool is not None and not self.done():
            self._pool.check_wait(self)
        return super().exception(timeout)


def current_task_future() -> Future[Any] | None:
    """The Future of the pool task the caller runs in, if any."""
    runtime = _runtime.peek()
    worker = getattr(runtime.local, "worker", None) if runtime is not None else None
    record = worker.record if worker is not None else None
    return record.future if record is not None else None


def mark_abandoned(future: futures.Future[Any]) -> None:
    """Nobody waits for this task any more: shutdown leaves it running."""
    target = getattr(future, "_inner", None) or future
    if isinstance(target, Future):
        target._abandoned = True


class TaskRecord:
    """One running task: what it is, when it started, where its stack is."""

    __slots__ = ("fn", "future", "worker", "started", "thresholds_crossed")

    def __init__(self, fn: Callable[..., object], future: Future[Any], worker: Worker) -> None:
        self.fn = fn
        self.future = future
        self.worker = worker
        self.started = time.monotonic()
        self.thresholds_crossed = 0

    @property
    def pool(self) -> Pool:
        return self.worker.pool

    @property
    def handle(self) -> object:
        return self.worker.handle

    @property
    def abandoned(self) -> bool:
        return self.future._abandoned

    @property
    def task(self) -> str:
        # Named only when a log line needs it: not on the hot path.
        return describe(self.fn)


def describe(fn: object) -> str:
    """A task's name for logs: its qualified name where it has one."""
    target = fn
    while hasattr(target, "func"):  # functools.partial, offramp's wrappers
        target = target.func
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{name}" if module else name


def _caller_outside_offramp() -> str:
    frame: FrameType | None = sys._getframe(1)
    package = os.path.dirname(__file__)
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
    if frame is None:
        return "unknown"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class _Task(Carrier):
    """A submitted call, with the submitter's context, waiting for a worker."""

    __slots__ = ("future", "fn", "args", "kwargs", "reserved")

    def __init__(
        self, future: Future[Any], fn: Callable[..., object],
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> None:
        Carrier.__init__(self)
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        # Whether its submitter counted on an idle worker (see Pool._work).
        self.reserved = False

    def run_call(self) -> object:
        return self.call(self.fn, self.args, self.kwargs)


_STOP = None  # queued behind all work: the worker that takes it exits


class WorkerThread(Protocol):
    """What the backend's ``start_worker`` returns: a (green) thread."""

    def join(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...


class Worker:
    """One worker of a pool: its thread, its current task, its counts.

    Each counter is written only by its own worker, so no task pays for a
    lock to count; readers add them up.
    """

    __slots__ = ("pool", "thread", "handle", "record",
                 "executed", "failures", "runtime", "cancelled")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.thread: WorkerThread | None = None
        self.handle: object = None
        self.record: TaskRecord | None = None
        self.executed = 0
        self.failures = 0
        self.runtime = 0.0
        self.cancelled = 0


class Pool(futures.Executor):
    """A named pool of workers; ``get_executor()`` hands out views of it.

    ``kind`` keeps the executor names of nova's stats lines, which
    operators already grep for.
    """

    def __init__(self, runtime: _runtime.Runtime, pool_name: str, size: int, kind: str) -> None:
        self.pool_name = pool_name
        self.max_workers = size
        self.kind = kind
        self.name = f"{runtime.process_name}.{pool_name}"
        self._runtime = runtime
        self._backend = runtime.backend
        # Looked up now, after bootstrap: green in eventlet mode.
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers: list[Worker] = []
        self._idle = 0  # workers waiting for a task no submitter reserved
        self._closed = False
        self._ended = PoolStatistics()  # counts of workers that exited
        self._last_saturation_warning: float | None = None
        self.hung_reported = 0
        # Targets of scatter-gather tasks abandoned while still running.
        self.abandoned: dict[object, int] = {}
        # Where the pool was first asked for, for leak reports in tests.
        self.created_at = _caller_outside_offramp()

    # -- submitting -------------------------------------------------------

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        future._pool = self
        future._fn = fn
        task = _Task(future, fn, args, kwargs)
        start_worker = saturated = False
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    f"cannot submit {describe(fn)}: pool {self.name} was shut "
                    "down by offramp.shutdown_executors()")
            if self._idle:
                self._idle -= 1
                task.reserved = True
            elif len(self._workers) < self.max_workers:
                worker = Worker(self)
                self._workers.append(worker)
                start_worker = True
            else:
                saturated = True
        if start_worker:
            try:
                worker.thread = self._backend.start_worker(
                    self._work, worker, task, f"offramp {self.name} worker")
            except BaseException:
                with self._lock:
                    self._workers.remove(worker)
                raise
            return future
        if saturated:
            self._warn_saturated(fn)
        self._queue.put(task)
        return future

    def _work(self, worker: Worker, task: _Task | None) -> None:
        """A worker's life: run tasks until it takes a stop."""
        worker.handle = self._backend.current_task_handle()
        self._runtime.local.worker = worker
        get = self._queue.get
        lock = self._lock
        try:
            while task is not None:
                self._run(worker, task)
                with lock:
                    self._idle += 1
                task = get()
                if task is None or not task.reserved:
                    # Nobody reserved this worker for that task: it is no
                    # longer idle on its own account.
                    with lock:
                        self._idle -= 1
        finally:
            with lock:
                self._workers.remove(worker)
                self._ended = PoolStatistics(
                    self._ended.failures + worker.failures,
                    self._ended.executed + worker.executed,
                    self._ended.runtime + worker.runtime,
                    self._ended.cancelled + worker.cancelled,
                )

    def _run(self, worker: Worker, task: _Task) -> None:
        future = task.future
        if not future.set_running_or_notify_cancel():
            worker.cancelled += 1
            return
        record = TaskRecord(task.fn, future, worker)
        worker.record = record
        # The counts and the record are settled before the future is, so
        # that whoever wakes up on the result sees them.
        try:
            result = task.run_call()
        except BaseException as exc:
            worker.record = None
            worker.failures += 1
            worker.executed += 1
            worker.runtime += time.monotonic() - record.started
            future.set_exception(exc)
        else:
            worker.record = None
            worker.executed += 1
            worker.runtime += time.monotonic() - record.started
            future.set_result(result)

    # -- reading ----------------------------------------------------------

    @property
    def alive(self) -> bool:
        return not self._closed

    @property
    def statistics(self) -> PoolStatistics:
        with self._lock:
            workers = list(self._workers)
            ended = self._ended
        return PoolStatistics(
            ended.failures + sum(w.failures for w in workers),
            ended.executed + sum(w.executed for w in workers),
            ended.runtime + sum(w.runtime for w in workers),
            ended.cancelled + sum(w.cancelled for w in workers),
        )

    def state(self) -> PoolState:
        """In the terms of the mode's futurist executor (see the backends)."""
        state: PoolState = self._backend.state_of(self)
        return state

    def worker_count(self) -> int:
        return len(self._workers)

    def idle_count(self) -> int:
        """Workers waiting for a task that no submitter has claimed."""
        return max(0, self._idle)

    def queued(self) -> int:
        return self._queue.qsize()

    def workers(self) -> list[Worker]:
        with self._lock:
            return list(self._workers)

    def running_tasks(self) -> list[TaskRecord]:
        return [r for w in list(self._workers) if (r := w.record) is not None]

    def free_slots(self) -> int:
        """Workers left for new work: neither running a task nor claimed by
        a queued one."""
        return self.max_workers - len(self.running_tasks()) - self.queued()

    def _warn_saturated(self, fn: object) -> None:
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
            self.name, describe(fn), state.max_workers, state.workers, state.queued + 1,
        )

    def check_wait(self, child: Future[Any]) -> None:
        """Called before a caller blocks on ``child``'s result."""
        worker: Worker | None = getattr(self._runtime.local, "worker", None)
        if worker is None or worker.pool is not self or worker.record is None:
            return
        parent = worker.record
        # The child itself is counted as queued: below zero, nothing is left
        # to run it but the workers already busy.
        if child.running() or self.free_slots() >= 0:
            return
        message = (
            f"Possible deadlock in pool {self.name}: task {parent.task} is "
            f"blocking on the result of its child {describe(child._fn)}, which is "
            "queued on the same pool while the pool has no idle worker. "
            "Submit children to a different pool, or do not block on them "
            "from inside a pool task."
        )
        LOG.error(message)
        if self._runtime.settings.deadlock_action == "raise":
            raise PoolDeadlockError(message)

    # -- stopping ---------------------------------------------------------

    def close(self, cancel_queued: bool = False) -> None:
        """Take no more tasks; each worker exits once the queue is done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = len(self._workers)
        if cancel_queued:
            self.cancel_queued()
        for _ in range(workers):
            self._queue.put(_STOP)

    def cancel_queued(self) -> int:
        """Cancel every task that has not started; return how many."""
        cancelled = stops = 0
        while True:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is None:
                stops += 1
            elif task.future.cancel():
                cancelled += 1
        for _ in range(stops):
            self._queue.put(_STOP)
        if cancelled:
            with self._lock:
                ended = self._ended
                self._ended = dataclasses.replace(ended, cancelled=ended.cancelled + cancelled)
        return cancelled

    def busy_workers(self) -> list[Worker]:
        """Workers still alive, except those running an abandoned task."""
        busy = []
        for worker in list(self._workers):
            record = worker.record
            if record is not None and record.abandoned:
                continue
            busy.append(worker)
        return busy

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the pool; with ``wait``, wait for its workers, unbounded.

        Services call ``offramp.shutdown_executors()``, which bounds the
        wait; this is the plain ``Executor`` contract.
        """
        self.close(cancel_queued=cancel_futures)
        if wait:
            for worker in list(self._workers):
                if worker.thread is not None:
                    worker.thread.join()
