"""Map a function over many items on every core, with plain forks.

A plain fork rather than a process pool: the children already hold the
items and everything imported, so nothing is imported or sent to them,
and starting one costs a few milliseconds instead of a pool's tens.
``scan`` and ``lint`` read, count and analyse a tree's files with it
(many items, pulled a few at a time); a second pass analyses files
again with other files' wrappers (few items of very different cost,
largest first).
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

_INDEX = struct.Struct("<I")
_MISSING = object()


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Only a single-threaded process forks safely (a lock another thread
    holds would stay held in the child), and not under eventlet's monkey
    patching, whose green threads and sockets do not survive a fork."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return False
    return hasattr(os, "fork") and threading.active_count() == 1


@contextmanager
def _without_cycle_collection():
    """Reading and analysing files makes no reference cycles, only many
    objects: the cycle collector's passes over them and over the inherited
    heap only cost time (about 5% of an analysis) and copy shared pages."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@_without_cycle_collection()
def fork_map(func: Callable, items: Sequence, shares: Sequence[Sequence[int]]) -> list:
    """``[func(item) for item in items]``, in order: forked children do all
    shares but the first, which this process does meanwhile; each child
    sends its results back, pickled, through a pipe.

    A child that fails has its share done here, so an error is raised
    here as it would be without children.
    """
    children = [(_fork(lambda share=share: [func(items[i]) for i in share]), share)
                for share in shares[1:]]
    out: list = [None] * len(items)
    for i in shares[0] if shares else ():
        out[i] = func(items[i])
    for child, share in children:
        results = _received(*child)
        if results is None or len(results) != len(share):
            # A child cut short: its share is done here instead.
            results = [func(items[i]) for i in share]
        for i, result in zip(share, results):
            out[i] = result
    return out


@_without_cycle_collection()
def fork_pull(func: Callable, items: Sequence, order: Sequence[int], workers: int,
              batch: int = 1) -> list:
    """``[func(item) for item in items]``, in order, on ``workers``
    processes that each take the next ``batch`` indices of ``order``
    (every index of ``items``) when done with the last: put the costliest
    first, and no process waits on another's last big item while it could
    have helped.

    The indices go through one pipe, written whole before the fork, that
    every process reads ``batch`` indices at a time (a pipe read is
    atomic, and every read takes a multiple of an index's 4 bytes, so
    none is split). When they do not fit the pipe, the items are dealt
    in advance instead.
    """
    tasks_read, tasks_write = os.pipe()
    os.set_blocking(tasks_write, False)
    queued = b"".join(_INDEX.pack(i) for i in order)
    try:
        fits = os.write(tasks_write, queued) == len(queued)
    except BlockingIOError:
        fits = False
    os.close(tasks_write)
    if not fits:
        os.close(tasks_read)
        return fork_map(func, items, [order[k::workers] for k in range(workers)])
    children = [_fork(lambda: [(i, func(items[i])) for i in _pulled(tasks_read, batch)])
                for _ in range(workers - 1)]
    out: list = [_MISSING] * len(items)
    try:
        for i in _pulled(tasks_read, batch):
            out[i] = func(items[i])
    finally:
        os.close(tasks_read)
    for child in children:
        for i, result in _received(*child) or ():  # a child cut short: done below
            out[i] = result
    for i in order:
        if out[i] is _MISSING:
            out[i] = func(items[i])
    return out


def _fork(work: Callable[[], list]) -> tuple[int, int]:
    """A child that runs ``work()`` and sends its result back, pickled,
    through a pipe: ``(pid, read end)``."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(work(), out, pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _received(pid: int, read_end: int) -> list | None:
    """What a child of ``_fork`` sent, or None if it failed."""
    with os.fdopen(read_end, "rb") as pipe:
        received = pipe.read()
    _, status = os.waitpid(pid, 0)
    try:
        return pickle.loads(received) if status == 0 else None
    except Exception:  # cut short mid-write
        return None


def _pulled(fd: int, batch: int) -> Iterator[int]:
    while chunk := os.read(fd, _INDEX.size * batch):
        for (i,) in _INDEX.iter_unpack(chunk):
            yield i
