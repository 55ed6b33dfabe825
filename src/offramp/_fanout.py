"""Scatter-gather that one hung backend can never drain.

A running thread cannot be killed. When a target times out, its queued
task is cancelled, but a running one is left to finish: it is
*abandoned*. nova then gives that target a new thread on every request,
so a backend that keeps hanging fills the pool until nothing healthy
runs. Here a target with an abandoned task still running gets no thread
at all until that task ends; it answers ``DID_NOT_RESPOND`` at once.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent import futures

from offramp import _runtime
from offramp._capped import CappedExecutor
from offramp._executors import get_executor

LOG = logging.getLogger("offramp")


class _DidNotRespond:
    """The answer of a target that timed out or is still hung."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "offramp.DID_NOT_RESPOND"

    def __reduce__(self):
        return (_DidNotRespond, ())


DID_NOT_RESPOND = _DidNotRespond()


def is_failure(value) -> bool:
    """True for an exception object or ``DID_NOT_RESPOND``."""
    return value is DID_NOT_RESPOND or isinstance(value, BaseException)


def scatter_gather(
    targets,
    fn,
    /,
    *args,
    timeout: float,
    pool: str = "scatter_gather",
    target_timeouts: dict | None = None,
    target_limit: int | None = None,
    **kwargs,
) -> dict:
    """Run ``fn(target, *args, **kwargs)`` for every target at once.

    Waits at most ``timeout`` seconds in all (``target_timeouts`` may give
    some targets less) and returns ``{target: result}``, where a result is
    the return value, the exception raised, or ``DID_NOT_RESPOND``.
    Targets must be hashable and stable across calls: abandoned and
    in-flight tasks are counted per target.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"invalid timeout {timeout!r}; accepted: a number of seconds > 0")
    runtime = _runtime.get("offramp.scatter_gather()")
    executor = get_executor(pool)
    abandoned = runtime.abandoned.setdefault(pool, {})
    unique = list(dict.fromkeys(targets))
    share = target_limit or max(1, -(-executor.max_workers // max(1, len(unique))))
    with runtime.lock:
        gate = runtime.fanout_gates.get((pool, share))
        if gate is None:
            gate = runtime.fanout_gates[(pool, share)] = CappedExecutor(
                pool, {}, default_limit=share)
    started = time.monotonic()
    results: dict = {}
    deadlines: dict = {}
    owners: dict = {}
    for target in unique:
        if abandoned.get(target):
            LOG.warning(
                "Target %s still has %d abandoned task(s) running on pool %s; "
                "it is reported as not responding and gets no new worker.",
                target, abandoned[target], executor.name,
            )
            results[target] = DID_NOT_RESPOND
            continue
        future = gate.submit(target, fn, target, *args, **kwargs)
        owners[future] = target
        limit = min(timeout, (target_timeouts or {}).get(target, timeout))
        deadlines[future] = started + limit

    pending = set(owners)
    for deadline in sorted(set(deadlines.values())):
        if not pending:
            break
        done, _ = futures.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        pending -= done
        for future in [f for f in pending if deadlines[f] <= deadline and not f.done()]:
            pending.discard(future)
            results[owners[future]] = _give_up(
                runtime, executor, pool, owners[future], future, deadline - started
            )
        pending -= {f for f in pending if f.done()}
    for future, target in owners.items():
        if target not in results:
            results[target] = _outcome(executor, target, future)
    return {target: results[target] for target in unique}


def _outcome(executor, target, future):
    error = future.exception()
    if error is None:
        return future.result()
    LOG.warning(
        "Target %s raised %s on pool %s: %s",
        target, type(error).__name__, executor.name, error,
    )
    return error


def _give_up(runtime, executor, pool, target, future, waited):
    if future.cancel():
        LOG.warning(
            "Target %s did not respond within %.2fs; its task had not "
            "started on pool %s and was cancelled.", target, waited, executor.name,
        )
        return DID_NOT_RESPOND
    with runtime.lock:
        counts = runtime.abandoned.setdefault(pool, {})
        counts[target] = counts.get(target, 0) + 1
    LOG.warning(
        "Target %s did not respond within %.2fs; its task is still running "
        "on pool %s and is abandoned. The target gets no new worker until "
        "it finishes.", target, waited, executor.name,
    )
    future.add_done_callback(
        functools.partial(_release, runtime, pool, target, time.monotonic())
    )
    return DID_NOT_RESPOND


def _release(runtime, pool, target, since, future) -> None:
    with runtime.lock:
        counts = runtime.abandoned.get(pool, {})
        counts[target] -= 1
        if not counts[target]:
            del counts[target]
    LOG.info(
        "Abandoned task of target %s on pool %s finished %.1fs after it was "
        "given up.", target, pool, time.monotonic() - since,
    )
