"""Scatter-gather that one hung backend can never drain.

A running thread cannot be killed. When a target times out, its queued
task is cancelled, but a running one is left to finish: it is
*abandoned*. nova then gives that target a new thread on every request,
so a backend that keeps hanging fills the pool until nothing healthy
runs. Here a target with an abandoned task still running gets no thread
at all until that task ends; it answers ``DID_NOT_RESPOND`` at once.
Nobody waits for an abandoned task, so neither does shutdown.
"""

from __future__ import annotations

import enum
import functools
import logging
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent import futures
from typing import Any, Concatenate, Final, TypeVar, Union

from offramp import _runtime
from offramp._capped import CappedExecutor
from offramp._executors import pool as named_pool
from offramp._pool import Pool, mark_abandoned

if sys.version_info >= (3, 13):
    from typing import TypeIs
else:
    from typing_extensions import TypeIs

LOG = logging.getLogger("offramp")

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


class DidNotRespond(enum.Enum):
    """The type of ``DID_NOT_RESPOND``, the answer of a target that timed
    out or is still hung. A one-member enum, so that ``value is
    DID_NOT_RESPOND`` narrows the type for mypy and pyright."""

    DID_NOT_RESPOND = "DID_NOT_RESPOND"

    def __repr__(self) -> str:
        return "offramp.DID_NOT_RESPOND"


DID_NOT_RESPOND: Final = DidNotRespond.DID_NOT_RESPOND

# What scatter_gather answers for one target: the value ``fn`` returned,
# the exception it raised, or DID_NOT_RESPOND.
Outcome = Union[T, BaseException, DidNotRespond]


def is_failure(value: object) -> TypeIs[BaseException | DidNotRespond]:
    """True for an exception object or ``DID_NOT_RESPOND``.

    A type guard both ways: where it is false, a type checker knows the
    value is what the target's function returned.
    """
    return value is DID_NOT_RESPOND or isinstance(value, BaseException)


def scatter_gather(
    targets: Iterable[K],
    fn: Callable[Concatenate[K, ...], T],
    /,
    *args: Any,
    timeout: float,
    pool: str = "scatter_gather",
    target_timeouts: Mapping[K, float] | None = None,
    target_limit: int | None = None,
    **kwargs: Any,
) -> dict[K, Outcome[T]]:
    """Run ``fn(target, *args, **kwargs)`` for every target at once.

    Waits at most ``timeout`` seconds in all (``target_timeouts`` may give
    some targets less) and returns ``{target: outcome}`` in the order of
    ``targets``, where an outcome is the return value, the exception
    raised, or ``DID_NOT_RESPOND``: ``isinstance(v, BaseException)``,
    ``v is DID_NOT_RESPOND`` and :func:`is_failure` tell them apart.
    Targets must be hashable and stable across calls: abandoned and
    in-flight tasks are counted per target.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"invalid timeout {timeout!r}; accepted: a number of seconds > 0")
    runtime = _runtime.get("offramp.scatter_gather()")
    executor = named_pool(pool)
    abandoned = executor.abandoned
    unique = list(dict.fromkeys(targets))
    share = target_limit or max(1, -(-executor.max_workers // max(1, len(unique))))
    with runtime.lock:
        gate = runtime.fanout_gates.get((executor.pool_name, share))
        if gate is None:
            gate = runtime.fanout_gates[(executor.pool_name, share)] = CappedExecutor(
                executor.pool_name, {}, default_limit=share)
    started = time.monotonic()
    results: dict[K, Outcome[T]] = {}
    deadlines: dict[futures.Future[T], float] = {}
    owners: dict[futures.Future[T], K] = {}
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
        for late in [f for f in pending if deadlines[f] <= deadline and not f.done()]:
            pending.discard(late)
            results[owners[late]] = _give_up(
                runtime, executor, owners[late], late, deadline - started
            )
        pending -= {f for f in pending if f.done()}
    for answered, target in owners.items():
        if target not in results:
            outcome: T | BaseException = _outcome(executor, target, answered)
            results[target] = outcome
    return {target: results[target] for target in unique}


def _outcome(executor: Pool, target: object, future: futures.Future[R]) -> R | BaseException:
    error = future.exception()
    if error is None:
        return future.result()
    LOG.warning(
        "Target %s raised %s on pool %s: %s",
        target, type(error).__name__, executor.name, error,
    )
    return error


def _give_up(
    runtime: _runtime.Runtime, executor: Pool, target: Hashable,
    future: futures.Future[Any], waited: float,
) -> DidNotRespond:
    if future.cancel():
        LOG.warning(
            "Target %s did not respond within %.2fs; its task had not "
            "started on pool %s and was cancelled.", target, waited, executor.name,
        )
        return DID_NOT_RESPOND
    mark_abandoned(future)
    with runtime.lock:
        executor.abandoned[target] = executor.abandoned.get(target, 0) + 1
    LOG.warning(
        "Target %s did not respond within %.2fs; its task is still running "
        "on pool %s and is abandoned. The target gets no new worker until "
        "it finishes.", target, waited, executor.name,
    )
    future.add_done_callback(
        functools.partial(_release, runtime, executor, target, time.monotonic())
    )
    return DID_NOT_RESPOND


def _release(
    runtime: _runtime.Runtime, executor: Pool, target: Hashable, since: float,
    future: futures.Future[Any],
) -> None:
    with runtime.lock:
        counts = executor.abandoned
        counts[target] -= 1
        if not counts[target]:
            del counts[target]
    LOG.info(
        "Abandoned task of target %s on pool %s finished %.1fs after it was "
        "given up.", target, executor.name, time.monotonic() - since,
    )
