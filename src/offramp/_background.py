"""Work that lasts as long as the process: periodic tasks, long-lived loops.

The watchdog reports a pool task that runs past its thresholds. That is
right for a request and wrong for an accept loop or a sync that runs
every minute, so such work has its own two ways in:

- ``start_periodic()`` hands callables decorated with futurist's
  ``periodics.periodic`` to a futurist ``PeriodicWorker``. Its schedule
  loop runs on a thread of its own, which no watchdog times; each run is
  an ordinary task on a pool (``periodic`` by default), so a run that
  hangs is reported like any other hung task, and a run that ends in
  time never is. ``shutdown_executors()`` stops the worker.
- ``spawn_long_lived()`` runs a loop on a thread of its own, outside
  every pool: it holds no pool worker, the watchdog leaves it alone, and
  shutdown does not wait for it. It is meant to run until the process
  ends; a service that must stop it cleanly gives it its own signal.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from offramp import _executors, _runtime
from offramp._context import Named
from offramp._pool import Future, _Task, describe

if TYPE_CHECKING:
    from futurist.periodics import PeriodicWorker

LOG = logging.getLogger("offramp")

P = ParamSpec("P")
T = TypeVar("T")


def start_periodic(
    callables: Iterable[Callable[..., object]], *, pool: str = "periodic"
) -> PeriodicWorker:
    """Run periodic callables, each run as a task on ``pool``; return the
    started ``futurist.periodics.PeriodicWorker``.

    Decorate each callable with ``futurist.periodics.periodic(spacing)``
    (import futurist after bootstrap). Stop the worker with its ``stop()``
    and ``wait()``, or let ``shutdown_executors()`` do it. More callables
    can be added later with the worker's ``add()``.
    """
    from futurist import periodics

    runtime = _runtime.get("offramp.start_periodic()")
    _executors.pool(pool)  # fail now on a bad name or size
    worker = periodics.PeriodicWorker(
        [(fn, None, None) for fn in callables],
        log=LOG,
        executor_factory=periodics.ExistingExecutor(_PeriodicRuns(pool), shutdown=False),
        # Looked up now, after bootstrap: green in eventlet mode.
        cond_cls=threading.Condition,
        event_cls=threading.Event,
    )
    # The runs carry the caller's context, like every other task.
    context = contextvars.copy_context()
    thread = threading.Thread(
        target=context.run, args=(worker.start,), kwargs={"allow_empty": True},
        name=f"offramp periodic worker for pool {pool}", daemon=True)
    with runtime.lock:
        runtime.periodic_workers.append(worker)
    thread.start()
    return worker


class _PeriodicRuns(futures.Executor):
    """The periodic worker's executor: every run is a task on the pool."""

    def __init__(self, pool_name: str) -> None:
        self.pool_name = pool_name

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        # futurist submits its runner with the Work, whose callback is the
        # user's function: the name the watchdog should show.
        work = args[0] if args else None
        name = getattr(work, "callback", fn)
        return _executors.pool(self.pool_name).submit(Named(name, fn, args, kwargs))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The pool is shared; ``shutdown_executors()`` owns it."""


@dataclasses.dataclass
class LongLivedTask:
    """A long-lived task, for the snapshot and the shutdown log."""

    task: str
    started: float


def spawn_long_lived(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
    """Run ``fn`` on a thread of its own (green in eventlet mode), with the
    caller's context: a loop that runs until the process ends.

    The watchdog never reports it, it holds no pool worker, and neither
    ``shutdown_executors()`` nor interpreter exit waits for it.
    """
    runtime = _runtime.get("offramp.spawn_long_lived()")
    future: Future[T] = Future()
    task = _Task(future, fn, args, kwargs)
    entry = LongLivedTask(describe(fn), time.monotonic())
    thread = threading.Thread(
        target=_live, args=(runtime, task, entry),
        name=f"offramp long-lived {entry.task}", daemon=True)
    with runtime.lock:
        runtime.long_lived[id(entry)] = entry
    try:
        thread.start()
    except BaseException:
        with runtime.lock:
            del runtime.long_lived[id(entry)]
        raise
    return future


def _live(runtime: _runtime.Runtime, task: _Task, entry: LongLivedTask) -> None:
    future = task.future
    try:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = task.run_call()
        except BaseException as exc:
            LOG.warning("Long-lived task %s ended with %s: %s",
                        entry.task, type(exc).__name__, exc)
            future.set_exception(exc)
        else:
            future.set_result(result)
    finally:
        with runtime.lock:
            runtime.long_lived.pop(id(entry), None)
