"""Analyse many files: from the cache where it has them, the rest on every
core when there is enough work to pay for starting worker processes.

Results come back in the order asked, whichever worker finishes first;
``analyze`` is a pure function of its arguments, so where it ran does not
change what it returns.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Sequence

from offramp.migrate._analyze import Analysis, analyze
from offramp.migrate._cache import Cache, blob_id, dumps, loads

# Source bytes to analyse below which one process beats forking another
# (a fork costs milliseconds; parsing runs at a few MB/s).
PARALLEL_BYTES = 64 * 1024


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def analyze_files(sources: Sequence[tuple[bytes, str]], cache: Cache | None = None,
                  jobs: int | None = None) -> list[Analysis]:
    """``analyze(data, module)`` for each ``(data, module)``, in order."""
    out: list[Analysis | None] = [None] * len(sources)
    blobs: dict[int, str] = {}
    todo = []
    copies: dict[int, list[int]] = {}  # a file seen twice (a symlink) is analysed once
    first: dict[tuple[bytes, str], int] = {}
    for i, (data, module) in enumerate(sources):
        original = first.setdefault((data, module), i)
        if original != i:
            copies.setdefault(original, []).append(i)
            continue
        if cache is not None:
            blobs[i] = blob_id(data)
            out[i] = cache.get(blobs[i], module)
            if out[i] is not None:
                continue
        todo.append(i)
    workers = min(jobs or available_cpus(), len(todo))
    if workers > 1 and sum(len(sources[i][0]) for i in todo) >= PARALLEL_BYTES and _can_fork():
        payloads = _in_workers([sources[i] for i in todo], workers)
        for i, payload in zip(todo, payloads):
            out[i] = loads(payload)
            if cache is not None:
                cache.put(blobs[i], sources[i][1], payload)
    else:
        for i in todo:
            out[i] = analyze(*sources[i])
            if cache is not None:
                cache.put(blobs[i], sources[i][1], dumps(out[i]))
    for original, same in copies.items():
        for i in same:
            out[i] = out[original]
    return out  # type: ignore[return-value]  # every slot is filled above


def _analyze_job(data: bytes, module: str) -> bytes:
    # Pickled by the cache's format, so rules come back as the registry's own.
    return dumps(analyze(data, module))


def _can_fork() -> bool:
    """Only a single-threaded process forks safely (a lock another thread
    holds would stay held in the child), and not under eventlet's monkey
    patching, whose green threads and sockets do not survive a fork."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return False
    return hasattr(os, "fork") and threading.active_count() == 1


def _shares(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Indices split so each share holds about as many bytes (parse time
    follows size): largest first, each to the lightest share so far."""
    shares: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        lightest = loads.index(min(loads))
        shares[lightest].append(i)
        loads[lightest] += sizes[i]
    return shares


def _in_workers(items: list[tuple[bytes, str]], workers: int) -> list[bytes]:
    """Forked children analyse all shares but the first, which this process
    analyses meanwhile; each child sends its payloads back through a pipe.

    A plain fork rather than a process pool: the children already hold the
    sources and the loaded rules, so nothing is imported or sent to them,
    and starting one costs a few milliseconds instead of a pool's tens.  A
    child that fails has its share analysed here.
    """
    shares = _shares([len(data) for data, _ in items], workers)
    children = []  # (pid, read end, share)
    for share in shares[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "wb") as out:
                    pickle.dump([_analyze_job(*items[i]) for i in share], out,
                                pickle.HIGHEST_PROTOCOL)
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end, share))
    out: list[bytes] = [b""] * len(items)
    for i in shares[0]:
        out[i] = _analyze_job(*items[i])
    for pid, read_end, share in children:
        with os.fdopen(read_end, "rb") as pipe:
            received = pipe.read()
        _, status = os.waitpid(pid, 0)
        try:
            payloads = pickle.loads(received) if status == 0 else None
        except Exception:  # a child cut short: its share is done here instead
            payloads = None
        if payloads is None or len(payloads) != len(share):
            payloads = [_analyze_job(*items[i]) for i in share]
        for i, payload in zip(share, payloads):
            out[i] = payload
    return out
