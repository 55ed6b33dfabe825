"""One CPU per worker process, so GIL hand-offs stay on one core.

Only one thread of a process runs Python at a time. Each time a thread
blocks on a socket and another takes the GIL, the kernel may wake that
other thread on a different core, so every database or broker round trip
becomes a cross-core wake-up and the interpreter runs on a cold cache.
Measured on cellsched's scheduler (3 MariaDB cells, 5 callers, 2 cores),
threading mode took 12.2-12.8 ms of CPU per request unpinned and 8.4-9.5
ms pinned; eventlet mode, one OS thread, took 8.0-9.8 ms either way.

A service with several worker processes therefore pins each worker to its
own CPU. The workers do not know their index (neither oslo.service
launcher tells them), so each one looks at its siblings, the other
children of its parent: those already pinned are counted, and the ones not
pinned yet are dealt the least-used CPUs in pid order. Every sibling
computes the same deal, so workers that start together still spread out,
and a restarted worker takes the CPU its predecessor left. The deal
starts from a CPU picked by the parent's pid, so that two services with
one worker each do not both begin on the first CPU; processes outside the
family are not counted.
"""

from __future__ import annotations

import collections
import logging
import os

from offramp import _runtime

LOG = logging.getLogger("offramp")


def pin_worker() -> int | None:
    """Pin this worker process, all its threads, to one CPU; return it.

    Call it at the start of each worker process. The ``pin_workers``
    setting decides: ``auto`` (the default) pins in the modes that gain
    from it (threading), ``always`` pins in every mode, ``never`` does
    nothing. Returns None when nothing was pinned: the policy says no, the
    platform has no ``sched_setaffinity``, or the process may use only one
    CPU anyway.
    """
    runtime = _runtime.get("offramp.pin_worker()")
    policy = runtime.settings.pin_workers
    if policy == "never" or (
        policy == "auto" and not runtime.backend.PIN_WORKERS_BY_DEFAULT
    ):
        return None
    if not hasattr(os, "sched_setaffinity"):
        LOG.info("offramp: pin_workers=%s ignored: this platform cannot "
                 "set CPU affinity", policy)
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None
    pinned, unpinned = _siblings()
    cpu = choose_cpu(allowed, pinned, unpinned, os.getpid(),
                     start=os.getppid())
    _pin_all_threads(cpu)
    LOG.info("offramp: worker %d pinned to CPU %d of %s (pin_workers=%s, "
             "%s mode)", os.getpid(), cpu, allowed, policy, runtime.mode)
    return cpu


def choose_cpu(allowed, pinned, unpinned, me: int, start: int = 0) -> int:
    """The CPU for process ``me``.

    ``pinned`` holds the CPU of each sibling already pinned to one;
    ``unpinned`` the pids of the siblings not pinned yet, ``me`` included.
    Those are dealt the least-used CPU one by one in pid order, so every
    sibling that looks at the same processes reaches the same deal. Among
    equally used CPUs the deal goes round from ``allowed[start % n]``.
    """
    allowed = sorted(allowed)
    first = start % len(allowed)
    turn = {c: (i - first) % len(allowed) for i, c in enumerate(allowed)}
    used = collections.Counter(c for c in pinned if c in allowed)
    for pid in sorted(set(unpinned) | {me}):
        cpu = min(allowed, key=lambda c: (used[c], turn[c]))
        if pid == me:
            return cpu
        used[cpu] += 1
    raise AssertionError("unreachable: me is in the deal")


def _siblings() -> tuple[list[int], list[int]]:
    """CPUs of the siblings pinned to one, and pids of the others."""
    import psutil

    me = os.getpid()
    pinned, unpinned = [], [me]
    try:
        parent = psutil.Process(me).parent()
        children = parent.children() if parent is not None else []
    except psutil.Error:
        children = []
    for child in children:
        if child.pid == me:
            continue
        try:
            cpus = os.sched_getaffinity(child.pid)
        except OSError:  # gone, or not ours to look at
            continue
        if len(cpus) == 1:
            pinned.extend(cpus)
        else:
            unpinned.append(child.pid)
    return pinned, unpinned


def _pin_all_threads(cpu: int) -> None:
    # sched_setaffinity(0) moves only the calling thread; threads started
    # later inherit from their creator, the ones already running do not.
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:  # the thread ended meanwhile
            pass
