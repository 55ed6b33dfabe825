"""One pass over a tree's files: read each once, count its eventlet lines,
keep the Python files worth analysing; on every core for a large tree.

Reading and looking at 30 MB of files is as much work as analysing the
few that matter, so it is split too: forked children (``_forked``) pull
the files a few at a time, analyse the ones they keep as soon as they
have read them, and send back the counts, the kept bytes and the
analyses.  Reading is bound by memory and analysing by the processor, so
doing both side by side beats one phase after the other (a cold scan of
nova, in alternating runs: 342 to 306 ms).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from offramp.migrate import _grep, _walk
from offramp.migrate._forked import available_cpus, can_fork, fork_pull
from offramp.migrate._prefilter import Prefilter
from offramp.migrate._walk import Entry

# Files below which one process beats forking another.
PARALLEL_FILES = 256
# Files a worker takes at a time: one pipe read each, and small enough to
# keep the workers' ends close.
BATCH = 8


class Seen(NamedTuple):
    count: int  # lines grep prints (0 when not counted)
    data: bytes | None  # the bytes, for a file to analyse
    error: str | None = None  # why it could not be read
    too_big: bool = False  # counted as it streamed by, never held
    analysis: bytes | None = None  # then(data), when a worker made it


def survey(entries: Sequence, look: Callable[..., Seen], jobs: int | None = None,
           then: Callable[[bytes], bytes] | None = None) -> list[Seen]:
    """``look(entry)`` for each entry, in order.  Where workers do it, each
    kept file also gets ``then(data)`` as its ``analysis``; in this process
    nothing does (the caller analyses the kept files together)."""
    workers = min(jobs or available_cpus(), len(entries))
    if workers > 1 and len(entries) >= PARALLEL_FILES and can_fork():
        def look_then(entry) -> Seen:
            seen = look(entry)
            if then is None or seen.data is None:
                return seen
            return seen._replace(analysis=then(seen.data))

        return fork_pull(look_then, entries, range(len(entries)), workers, BATCH)
    return [look(entry) for entry in entries]


def counting(utf8: bool, legacy_binary: bool, wanted: Prefilter, limit: int):
    """``scan``'s look: count every file, keep the ``.py`` files ``wanted``;
    a file above ``limit`` bytes is counted as it streams by."""

    # Gates inside grep's needle (``event``): a file without them has no
    # line to count.
    inside = wanted.gates_in(_grep.NEEDLE)

    def look(entry: Entry) -> Seen:
        try:
            data = _walk.read(entry.path, limit)
            if data is None:
                with open(entry.path, "rb") as fh:
                    chunks = iter(lambda: fh.read(_grep.BUFSIZE), b"")
                    return Seen(_grep.count_chunks(chunks, utf8, legacy_binary), None,
                                too_big=entry.rel.endswith(".py"))
        except OSError as exc:
            return Seen(0, None, exc.strerror)
        lowered = data.lower()
        if not entry.rel.endswith(".py"):
            return Seen(_grep.count_bytes(data, utf8, legacy_binary, lowered), None)
        # The gates' passes spare the count's own in most files.
        gates = wanted.gates_in(lowered)
        countable = not inside or any(g in gates for g in inside)
        count = _grep.count_bytes(data, utf8, legacy_binary, lowered) if countable else 0
        return Seen(count, data if wanted.wants(data, lowered, gates) else None)

    return look
