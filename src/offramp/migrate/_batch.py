"""Analyse many files: from the cache where it has them, the rest on every
core when there is enough work to pay for starting worker processes.

Results come back in the order asked, whichever worker finishes first;
``analyze`` is a pure function of its arguments, so where it ran does not
change what it returns.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence

from offramp.migrate._analyze import Analysis, analyze
from offramp.migrate._cache import Cache, blob_id, dumps, loads

# Source bytes to analyse below which one process beats starting workers
# (a fork pool costs tens of milliseconds; parsing runs at a few MB/s).
PARALLEL_BYTES = 256 * 1024


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
    enough = workers > 1 and sum(len(sources[i][0]) for i in todo) >= PARALLEL_BYTES
    method = _start_method() if enough else None
    if method:
        payloads = _in_workers([sources[i] for i in todo], workers, method)
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


def _start_method() -> str | None:
    """fork when this process has one thread (cheap, and safe then);
    forkserver otherwise; None where neither works."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return None  # green threads and sockets do not survive a process pool
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else None


def _in_workers(items: list[tuple[bytes, str]], workers: int, method: str) -> list[bytes]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["offramp.migrate._batch"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # Largest first, so one big file does not finish alone at the end.
        order = sorted(range(len(items)), key=lambda i: -len(items[i][0]))
        futures = {i: pool.submit(_analyze_job, *items[i]) for i in order}
        return [futures[i].result() for i in range(len(items))]
