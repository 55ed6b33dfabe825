"""Map a function over many items on every core, with plain forks.

A plain fork rather than a process pool: the children already hold the
items and everything imported, so nothing is imported or sent to them,
and starting one costs a few milliseconds instead of a pool's tens.
``scan`` and ``lint`` use it twice: to read and count a tree's files, then
to analyse the few worth parsing.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence


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


def interleaved(count: int, workers: int) -> list[list[int]]:
    """Indices dealt like cards: neighbours (files of one directory, alike
    in size) go to different shares."""
    return [list(range(start, count, workers)) for start in range(workers)]


def fork_map(func: Callable, items: Sequence, shares: Sequence[Sequence[int]]) -> list:
    """``[func(item) for item in items]``, in order: forked children do all
    shares but the first, which this process does meanwhile; each child
    sends its results back, pickled, through a pipe.

    A child that fails has its share done here, so an error is raised
    here as it would be without children.
    """
    children = []  # (pid, read end, share)
    for share in shares[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as out:
                    pickle.dump([func(items[i]) for i in share], out, pickle.HIGHEST_PROTOCOL)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end, share))
    out: list = [None] * len(items)
    for i in shares[0] if shares else ():
        out[i] = func(items[i])
    for pid, read_end, share in children:
        with os.fdopen(read_end, "rb") as pipe:
            received = pipe.read()
        _, status = os.waitpid(pid, 0)
        try:
            results = pickle.loads(received) if status == 0 else None
        except Exception:  # a child cut short: its share is done here instead
            results = None
        if results is None or len(results) != len(share):
            results = [func(items[i]) for i in share]
        for i, result in zip(share, results):
            out[i] = result
    return out
