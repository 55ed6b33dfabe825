"""Analyse many files: from the cache where it has them, the rest on every
core when there is enough work to pay for starting worker processes.

Results come back in the order asked, whichever worker finishes first;
``analyze`` is a pure function of its arguments, so where it ran does not
change what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from offramp.migrate._analyze import Analysis, analyze
from offramp.migrate._cache import Cache, blob_id, dumps, entry_key, loads
from offramp.migrate._forked import available_cpus, can_fork, fork_pull

# Source bytes to analyse below which one process beats forking another
# (a fork costs milliseconds; parsing runs at a few MB/s).
PARALLEL_BYTES = 64 * 1024


def analyze_files(sources: Sequence[tuple], cache: Cache | None = None,
                  jobs: int | None = None) -> list[Analysis]:
    """``analyze(data, module)`` for each ``(data, module)``, in order (or
    ``analyze(data, module, wrappers)`` for ``(data, module, wrappers)``)."""
    out: list[Analysis | None] = [None] * len(sources)
    blobs: dict[int, str] = {}
    todo = []
    copies: dict[int, list[int]] = {}  # a file seen twice (a symlink) is analysed once
    first: dict[tuple, int] = {}
    for i, source in enumerate(sources):
        original = first.setdefault(tuple(source), i)
        if original != i:
            copies.setdefault(original, []).append(i)
            continue
        if cache is not None:
            blobs[i] = blob_id(source[0])
            out[i] = cache.get(blobs[i], entry_key(*source[1:]))
            if out[i] is not None:
                continue
        todo.append(i)
    workers = min(jobs or available_cpus(), len(todo))
    if workers > 1 and sum(len(sources[i][0]) for i in todo) >= PARALLEL_BYTES and can_fork():
        payloads = _in_workers([sources[i] for i in todo], workers,
                               cache, [blobs.get(i) for i in todo])
        for i, payload in zip(todo, payloads):
            out[i] = loads(payload)
    else:
        for i in todo:
            out[i] = analyze(*sources[i])
            if cache is not None:
                cache.put(blobs[i], entry_key(*sources[i][1:]), dumps(out[i]))
    for original, same in copies.items():
        for i in same:
            out[i] = out[original]
    return out  # type: ignore[return-value]  # every slot is filled above


def analysed(cache: Cache | None) -> Callable[[bytes], bytes]:
    """A file's analysis as the cache stores it, from the cache where it
    has it: for the worker that read the file (``_survey``), which also
    stores what it analyses.  :func:`analyses_of` takes its output.  Each
    worker opens the cache when it first needs it, so a run that keeps no
    file reads no engine source."""

    def analysis(data: bytes) -> bytes:
        if cache is None:
            return _analyze_job(data)
        blob = blob_id(data)
        stored = cache.payload(blob)
        return stored if stored is not None else _analyzed_and_stored((data, ""), cache, blob)

    return analysis


def analyses_of(kept: Sequence[tuple[bytes, bytes | None]], cache: Cache | None = None,
                jobs: int | None = None) -> list[Analysis]:
    """The analysis of each ``(data, payload)``: the payload a worker made
    (:func:`analysed`), or, for the files read here, one made now."""
    todo = [data for data, payload in kept if payload is None]
    fresh = iter(analyze_files([(data, "") for data in todo], cache, jobs))
    return [next(fresh) if payload is None else loads(payload) for _, payload in kept]


def _analyze_job(data: bytes, *how) -> bytes:
    # Pickled by the cache's format, so rules come back as the registry's own.
    return dumps(analyze(data, *how))


def _analyzed_and_stored(source: tuple, cache: Cache | None, blob: str | None) -> bytes:
    """A worker's analysis of ``source``, stored in the cache by the worker."""
    payload = _analyze_job(*source)
    if cache is not None:
        cache.put(blob, entry_key(*source[1:]), payload)
    return payload


def _in_workers(sources: list[tuple], workers: int, cache: Cache | None,
                blobs: list) -> list[bytes]:
    """Each source analysed in one of ``workers`` processes (see ``_forked``),
    largest first: parse time grows with size.  The worker stores its
    entries in the cache too, so the writes run on every core."""

    largest_first = sorted(range(len(sources)), key=lambda i: -len(sources[i][0]))
    return fork_pull(lambda i: _analyzed_and_stored(sources[i], cache, blobs[i]),
                     range(len(sources)), largest_first, workers)
