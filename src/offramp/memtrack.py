"""Track the memory and threads of a process tree over time.

Moving a service off Eventlet swaps green threads for OS threads (or more
worker processes), and the price shows up as RSS and thread count.  This
module samples a tree of processes -- picked by pid or by a regex on the
name and command line/title, descendants included -- at a fixed interval,
the way devstack's memory_tracker does, and keeps per-process peaks so an
A/B benchmark can compare two runs with numbers instead of impressions.

It is a plain library (``offramp memtrack`` is only a front end) and uses
psutil alone: importing eventlet or futurist here would make the tracker
part of the concurrency model it is meant to measure.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

import psutil

__all__ = ["Peak", "ProcessSample", "Target", "Tracker", "read", "sample_tree"]


@dataclasses.dataclass(frozen=True)
class ProcessSample:
    """One process at one instant: the columns devstack's tracker shows."""

    pid: int
    ppid: int
    name: str
    cmdline: str  # command line, or the title a service set for itself
    rss: int  # bytes
    threads: int
    cpu_time: float  # user + system seconds, this process only
    started: float  # create time; (pid, started) survives pid reuse
    ts: float  # wall-clock time the sample was taken

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Peak:
    """What one process reached during a run; the latest values ride along."""

    pid: int
    ppid: int
    name: str
    cmdline: str
    started: float
    first_seen: float
    last_seen: float = 0.0
    samples: int = 0
    rss: int = 0
    threads: int = 0
    cpu_time: float = 0.0
    peak_rss: int = 0
    peak_rss_ts: float = 0.0
    peak_threads: int = 0
    gone: bool = False  # absent from the latest sample

    def add(self, s: ProcessSample) -> None:
        self.ppid, self.name, self.cmdline = s.ppid, s.name, s.cmdline
        self.last_seen, self.samples, self.gone = s.ts, self.samples + 1, False
        self.rss, self.threads, self.cpu_time = s.rss, s.threads, s.cpu_time
        if s.rss > self.peak_rss:
            self.peak_rss, self.peak_rss_ts = s.rss, s.ts
        self.peak_threads = max(self.peak_threads, s.threads)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Target:
    """Which processes to watch: root pids and/or a regex, plus descendants.

    Bad input raises ValueError naming the value, so a CLI can print it as
    is.  Pattern matches never include this process or its ancestors: their
    command lines contain the pattern itself (``offramp memtrack --name
    nova``, ``sudo ...``, ``timeout ...``) and would otherwise match.
    """

    def __init__(self, pids: Iterable[int] = (),
                 pattern: str | re.Pattern | None = None):
        self.pids = tuple(pids)
        if isinstance(pattern, str):
            try:
                pattern = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}; expected a "
                                 "Python regular expression") from None
        self.pattern = pattern
        if not self.pids and pattern is None:
            raise ValueError("nothing to track: give at least one pid or a "
                             "name pattern")
        self._roots = {}
        for pid in self.pids:
            if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
                raise ValueError(f"bad pid {pid!r}: expected a positive "
                                 "integer")
            try:
                self._roots[pid] = psutil.Process(pid)  # pins create time
            except psutil.NoSuchProcess:
                raise ValueError(f"no process with pid {pid}: expected the "
                                 "pid of a running process") from None
        me = psutil.Process()
        self._not_matches = {me.pid, *(p.pid for p in me.parents())}

    @classmethod
    def of(cls, spec) -> Target:
        """Take what a caller has: a pid, pids, a regex or a Target."""
        if isinstance(spec, Target):
            return spec
        if isinstance(spec, (str, re.Pattern)):
            return cls(pattern=spec)
        if isinstance(spec, int):
            return cls(pids=[spec])
        return cls(pids=list(spec))

    def _matches(self, info: dict) -> bool:
        name = info.get("name") or ""
        cmd = " ".join(info.get("cmdline") or ())  # None when access denied
        return bool(self.pattern.search(name)
                    or (cmd and self.pattern.search(cmd)))

    def roots_alive(self) -> bool:
        return any(p.is_running() for p in self._roots.values())

    def select(self, also: Iterable[psutil.Process] = ()
               ) -> list[psutil.Process]:
        """Current members: roots, pattern matches, ``also``; + descendants.

        One pass over the process table builds the parent->children map, so
        many roots cost no more than one.  ``also`` lets a Tracker keep
        following processes it saw before whose parent died (they get
        reparented away from the tree).
        """
        matching = self.pattern is not None
        attrs = ["ppid", "name", "cmdline"] if matching else ["ppid"]
        table: dict[int, psutil.Process] = {}
        children: dict[int, list[int]] = defaultdict(list)
        for proc in psutil.process_iter(attrs):
            table[proc.pid] = proc
            children[proc.info["ppid"]].append(proc.pid)
        seeds = [pid for pid, p in self._roots.items() if p.is_running()]
        # is_running() compares create times, so a reused pid is not "also"
        seeds += [p.pid for p in also if p.is_running()]
        if matching:
            seeds += [pid for pid, p in table.items()
                      if pid and pid not in self._not_matches
                      and self._matches(p.info)]
        chosen: dict[int, psutil.Process] = {}
        while seeds:
            pid = seeds.pop()
            if pid in chosen or pid not in table:
                continue
            chosen[pid] = table[pid]
            seeds.extend(children.get(pid, ()))
        return [chosen[pid] for pid in sorted(chosen)]


def read(proc: psutil.Process,
         ts: float | None = None) -> ProcessSample | None:
    """Sample one process; None if it vanished (or is a zombie) meanwhile.

    AccessDenied on the numbers propagates (the caller decides); an
    unreadable command line just falls back to the name, as ps does.
    """
    try:
        with proc.oneshot():
            rss = proc.memory_info().rss
            threads = proc.num_threads()
            cpu = proc.cpu_times()
            ppid, name = proc.ppid(), proc.name()
            started = proc.create_time()
            try:  # strip: setproctitle pads the title with blanks
                cmd = " ".join(proc.cmdline()).strip()
            except psutil.AccessDenied:
                cmd = ""
    except psutil.NoSuchProcess:  # ZombieProcess is a subclass
        return None
    return ProcessSample(
        pid=proc.pid, ppid=ppid, name=name, cmdline=cmd or f"[{name}]",
        rss=rss, threads=threads, cpu_time=cpu.user + cpu.system,
        started=started, ts=time.time() if ts is None else ts)


def _read_all(procs: Iterable[psutil.Process],
              denied: set[int]) -> list[ProcessSample]:
    ts = time.time()
    out = []
    for proc in procs:
        try:
            s = read(proc, ts)
        except psutil.AccessDenied:
            denied.add(proc.pid)
            continue
        if s is not None:
            out.append(s)
    return out


def sample_tree(spec) -> list[ProcessSample]:
    """One sample of a tree: ``spec`` is a pid, pids, a regex or a Target.

    Processes that vanish or deny access while being read are left out.
    """
    return _read_all(Target.of(spec).select(), set())


def _check_positive(name: str, value, integer: bool = False) -> None:
    if integer:
        ok = isinstance(value, int)
        kind = "a positive integer"
    else:
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        kind = "a positive number of seconds"
    if isinstance(value, bool) or not ok or value <= 0:
        raise ValueError(f"bad {name} {value!r}: expected {kind}")


class Tracker:
    """Sample a Target every ``interval`` seconds and keep per-process peaks.

    Use ``run()`` to sample in the calling thread, or ``start()``/``stop()``
    (or ``with Tracker(...)``) to sample in a daemon thread while a workload
    runs, then read ``peaks()``/``summary()``.  It stops by itself after
    ``count`` samples, after ``duration`` seconds, or -- when no pattern can
    bring new processes -- once every process of the tree is gone.

    ``on_sample(n, samples)`` is called from the sampling thread after each
    sample; the CLI prints from there so nothing is printed by a signal
    handler.
    """

    def __init__(self, target, interval: float = 1.0, *,
                 count: int | None = None, duration: float | None = None,
                 on_sample: Callable[[int, list[ProcessSample]], None]
                 | None = None):
        _check_positive("interval", interval)
        if count is not None:
            _check_positive("count", count, integer=True)
        if duration is not None:
            _check_positive("duration", duration)
        self.target = Target.of(target)
        self.interval, self.count, self.duration = interval, count, duration
        self.on_sample = on_sample
        self.samples_taken = 0
        self.peak_total_rss = 0  # largest tree-wide RSS sum in one sample
        self.denied: set[int] = set()  # pids we could not read
        self.stopped_by: str | None = None
        self.error: BaseException | None = None  # from the sampling thread
        self._peaks: dict[tuple[int, float], Peak] = {}
        self._known: list[psutil.Process] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = "stopped"
        self._thread: threading.Thread | None = None
        # Waiters use this event, not Thread.join: a join interrupted by
        # KeyboardInterrupt can wrongly mark the thread finished (bpo-45274
        # on some 3.11 releases), and the CLI waits under signals.
        self._done = threading.Event()

    def sample(self) -> list[ProcessSample]:
        """Take one sample now and fold it into the peaks."""
        procs = self.target.select(self._known)
        samples = _read_all(procs, self.denied)
        live = {s.pid for s in samples}
        self._known = [p for p in procs if p.pid in live]
        with self._lock:
            for peak in self._peaks.values():
                peak.gone = True
            for s in samples:
                key = (s.pid, s.started)
                if key not in self._peaks:
                    self._peaks[key] = Peak(
                        pid=s.pid, ppid=s.ppid, name=s.name,
                        cmdline=s.cmdline, started=s.started, first_seen=s.ts)
                self._peaks[key].add(s)
            total = sum(s.rss for s in samples)
            self.peak_total_rss = max(self.peak_total_rss, total)
            self.samples_taken += 1
        return samples

    def run(self) -> str:
        """Sample until a limit is reached or stop() is called; say which.

        Samples sit on a fixed grid (start + k * interval); a slow sample
        skips grid points instead of drifting or bursting to catch up.
        """
        start = time.monotonic()
        n = 0
        while True:
            samples = self.sample()
            n += 1
            if self.on_sample is not None:
                self.on_sample(n, samples)
            if self.count is not None and n >= self.count:
                reason = "count"
                break
            if (not self._known and self.target.pattern is None
                    and not self.target.roots_alive()):
                reason = "gone"  # nothing left, and nothing can come back
                break
            elapsed = time.monotonic() - start
            slot = math.floor(elapsed / self.interval) + 1
            next_at = self.interval * slot
            if self.duration is not None and next_at > self.duration + 1e-9:
                reason = "duration"
                break
            if self._stop.wait(next_at - elapsed):
                reason = self._stop_reason
                break
        self.stopped_by = reason
        return reason

    def _run_guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # surfaced to the owner via .error
            self.error = exc
            self.stopped_by = "error"
        finally:
            self._done.set()

    def start(self) -> Tracker:
        if self._thread is not None:
            raise RuntimeError("tracker already started")
        self._thread = threading.Thread(
            target=self._run_guarded, name="offramp-memtrack", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the sampling thread to end; True if it has."""
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    def stop(self, reason: str = "stopped") -> None:
        """Ask the sampling thread to finish and wait for it."""
        self._stop_reason = reason
        self._stop.set()
        self.wait()

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def peaks(self) -> list[Peak]:
        """Copies of the per-process peaks, biggest peak RSS first."""
        with self._lock:
            rows = [dataclasses.replace(p) for p in self._peaks.values()]
        return sorted(rows, key=lambda p: (-p.peak_rss, p.pid))

    def summary(self) -> dict:
        """A JSON-ready account of the run."""
        return {
            "samples": self.samples_taken,
            "interval": self.interval,
            "stopped_by": self.stopped_by,
            "peak_total_rss": self.peak_total_rss,
            "denied_pids": sorted(self.denied),
            "processes": [p.to_dict() for p in self.peaks()],
        }
