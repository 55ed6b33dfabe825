"""offramp memtrack against real processes.

Each test drives a small Python child over stdin ("alloc 50", "threads 4",
"spawn", ...) so it knows exactly what RSS, thread count and children the
tracker should see.  Nothing here depends on the concurrency mode.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from offramp._cli import main
from offramp.memtrack import Target, Tracker, sample_tree

pytestmark = pytest.mark.mode_independent

MiB = 1024 * 1024

CHILD = r"""
import subprocess, sys, threading, time
if "--title" in sys.argv:
    import setproctitle
    setproctitle.setproctitle(sys.argv[sys.argv.index("--title") + 1])
held, threads, stop, kids = [], [], threading.Event(), []
print("ok", flush=True)
for line in sys.stdin:
    op, *arg = line.split()
    out = ""
    if op == "alloc":  # bytes * n writes every page, so it is resident
        held.append(b"\x01" * (int(arg[0]) << 20))
    elif op == "free":
        held.clear()
    elif op == "threads":
        for _ in range(int(arg[0])):
            threads.append(threading.Thread(target=stop.wait))
            threads[-1].start()
    elif op == "join":
        stop.set()
        for t in threads:
            t.join()
        threads.clear()
        stop.clear()
    elif op == "spawn":  # lives until our stdin pipe to it closes
        kids.append(subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE))
        out = kids[-1].pid
    elif op == "spawn-detached":  # outlives us: becomes an orphan
        out = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(30)"]).pid
    elif op == "reap":
        for k in kids:
            k.kill()
            k.wait()
        kids.clear()
    elif op == "exit":
        break
    print("ok", out, flush=True)
"""


class Child:
    def __init__(self, *extra, exe=sys.executable):
        self.proc = subprocess.Popen(
            [exe, "-c", CHILD, *extra], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        assert self.proc.stdout.readline().startswith("ok")

    def do(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().split()
        assert reply and reply[0] == "ok", (command, reply)
        return reply[1] if len(reply) > 1 else ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()


@pytest.fixture
def child():
    made = []

    def make(*extra, **kw):
        made.append(Child(*extra, **kw))
        return made[-1]
    yield make
    for c in made:
        c.close()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def settle(tracker: Tracker, samples: int = 2) -> None:
    """Wait until a whole sample began after the caller's last change."""
    n = tracker.samples_taken
    wait_for(lambda: tracker.samples_taken >= n + samples)


def peak_of(tracker: Tracker, pid: int):
    rows = [p for p in tracker.peaks() if p.pid == pid]
    return rows[0] if rows else None


def cli(argv, capsys):
    try:
        code = main(["memtrack", *argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# -- the sampler ------------------------------------------------------------

def test_sample_tree_sees_rss_threads_cpu_and_descendants(child):
    c = child()
    c.do("alloc 50")
    c.do("threads 4")
    grandchild = int(c.do("spawn"))
    got = {s.pid: s for s in sample_tree(c.pid)}
    assert set(got) == {c.pid, grandchild}  # the tree, not the test runner
    me = got[c.pid]
    assert me.rss >= 50 * MiB
    assert me.threads == 5
    assert me.ppid == os.getpid()
    assert me.cpu_time > 0
    assert "stdin" in me.cmdline and me.name.startswith("python")
    assert got[grandchild].ppid == c.pid
    assert got[grandchild].rss < 50 * MiB


def test_pattern_matches_command_line(child):
    marker = f"mtk-{uuid.uuid4().hex}"
    c = child(marker)
    child()  # same program, no marker: must not match
    assert [s.pid for s in sample_tree(marker)] == [c.pid]


def test_pattern_matches_process_name_alone(child, tmp_path):
    name = f"mtk{uuid.uuid4().hex[:8]}"
    exe = tmp_path / name
    exe.symlink_to(sys.executable)
    c = child(exe=str(exe))
    # Anchored on both ends, so only the bare name can match, not the
    # command line (which starts with the full path).
    assert [s.pid for s in sample_tree(f"^{name}$")] == [c.pid]


def test_pattern_matches_process_title(child):
    pytest.importorskip("setproctitle")
    title = f"mtk-title-{uuid.uuid4().hex}"
    c = child("--title", title)
    wait_for(lambda: title in " ".join(psutil.Process(c.pid).cmdline()))
    got = sample_tree(f"^{title}$")
    assert [(s.pid, s.cmdline) for s in got] == [(c.pid, title)]


def test_tracker_keeps_peaks_after_usage_drops(child):
    c = child()
    c.do("alloc 20")
    with Tracker(c.pid, interval=0.05) as tracker:
        settle(tracker)
        c.do("alloc 60")
        c.do("threads 8")
        settle(tracker)
        c.do("free")
        c.do("join")
        settle(tracker)
    peak = peak_of(tracker, c.pid)
    assert peak.peak_rss >= 80 * MiB
    assert peak.rss < peak.peak_rss - 60 * MiB  # it really came down...
    assert peak.peak_threads == 9
    assert peak.threads == 1  # ...and so did the threads
    assert peak.samples == tracker.samples_taken >= 6
    assert tracker.peak_total_rss >= 80 * MiB
    assert tracker.stopped_by == "stopped" and tracker.error is None


def test_tracker_picks_up_new_children_and_marks_vanished_ones(child):
    c = child()
    with Tracker(c.pid, interval=0.05) as tracker:
        settle(tracker)
        grandchild = int(c.do("spawn"))
        wait_for(lambda: peak_of(tracker, grandchild) is not None)
        c.do("reap")
        settle(tracker)
    assert peak_of(tracker, grandchild).gone
    assert not peak_of(tracker, c.pid).gone
    assert tracker.error is None


def test_pattern_tracker_picks_up_processes_started_later(child):
    marker = f"mtk-{uuid.uuid4().hex}"
    with Tracker(marker, interval=0.05) as tracker:
        settle(tracker)
        assert tracker.peaks() == []
        c = child(marker)
        wait_for(lambda: peak_of(tracker, c.pid) is not None)
    assert tracker.stopped_by == "stopped"  # an empty match is no reason


def test_tracker_follows_orphans_then_stops_when_tree_is_gone(child):
    c = child()
    orphan = int(c.do("spawn-detached"))
    try:
        tracker = Tracker(c.pid, interval=0.05).start()
        settle(tracker)
        c.proc.stdin.write("exit\n")  # no reply: it just exits
        c.proc.stdin.flush()
        c.proc.wait(5)
        settle(tracker)
        # The root is gone and the orphan was reparented out of its tree,
        # yet it is still tracked, so the tracker keeps running.
        assert peak_of(tracker, c.pid).gone
        assert not peak_of(tracker, orphan).gone
        assert not tracker.wait(0)
    finally:
        os.kill(orphan, signal.SIGKILL)
    assert tracker.wait(5)
    assert tracker.stopped_by == "gone"


def test_vanished_and_unreadable_processes_are_skipped(child, monkeypatch):
    c = child()
    vanished, denied = c.pid, int(c.do("spawn"))
    healthy = int(c.do("spawn"))
    real = psutil.Process.num_threads

    def num_threads(self):
        if self.pid == vanished:
            raise psutil.NoSuchProcess(self.pid)
        if self.pid == denied:
            raise psutil.AccessDenied(self.pid)
        return real(self)
    monkeypatch.setattr(psutil.Process, "num_threads", num_threads)
    tracker = Tracker(c.pid, interval=1)
    assert [s.pid for s in tracker.sample()] == [healthy]
    assert tracker.denied == {denied}


def test_duration_and_count_limits():
    me = os.getpid()
    assert Tracker(me, interval=0.05, count=3).run() == "count"
    tracker = Tracker(me, interval=0.05, duration=0.3)
    started = time.monotonic()
    assert tracker.run() == "duration"
    elapsed = time.monotonic() - started
    _check_duration_run(tracker.samples_taken, elapsed, duration=0.3,
                        interval=0.05)


def _check_duration_run(samples: int, elapsed: float, duration: float,
                        interval: float) -> None:
    """What a run stopped by ``duration`` promises, however busy the
    machine: it lasted until the last grid point within the duration was
    due, and took at most one sample per grid point 0, interval, ...,
    duration (a stalled machine skips points, never bursts to catch up).
    How many points a stall skips is the machine's business, not checked."""
    assert elapsed >= duration - interval, elapsed
    assert 1 <= samples <= round(duration / interval) + 1, samples


@pytest.mark.parametrize("make, words", [
    (lambda dead: Target(pids=[dead]), ["pid", "running process"]),
    (lambda dead: Target(pattern="(oops"), ["(oops", "regular expression"]),
    (lambda dead: Tracker(os.getpid(), interval=-1), ["-1", "positive"]),
    (lambda dead: Tracker(os.getpid(), count=0), ["0", "positive integer"]),
])
def test_library_rejects_bad_input_by_name(make, words):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    with pytest.raises(ValueError) as err:
        make(dead.pid)
    for word in words:
        assert word in str(err.value)


def test_no_eventlet_or_futurist_import():
    code = ("import sys, offramp; before = set(sys.modules); "
            "import offramp.memtrack, offramp._cli.memtrack; "
            "print(sorted(m for m in set(sys.modules) - before "
            "if m.split('.')[0] in ('eventlet', 'futurist')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


# -- the CLI ----------------------------------------------------------------

def test_cli_json_lines_and_summary(child, capsys):
    c = child()
    c.do("alloc 50")
    c.do("threads 4")
    code, out, _ = cli(["--pid", str(c.pid), "--count", "3",
                        "--interval", "0.05", "--json"], capsys)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    samples, summary = records[:-1], records[-1]
    assert [r["n"] for r in samples] == [1, 2, 3]
    for r in samples:
        assert r["type"] == "sample" and r["pid"] == c.pid
        assert r["ppid"] == os.getpid() and r["threads"] == 5
        assert r["rss"] >= 50 * MiB and r["ts"] > 0 and "cpu_time" in r
    assert summary["type"] == "summary" and summary["samples"] == 3
    assert summary["stopped_by"] == "count"
    [proc] = summary["processes"]
    assert proc["pid"] == c.pid and proc["peak_rss"] >= 50 * MiB
    assert proc["peak_threads"] == 5


def test_cli_table_reports_peaks(child, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    c = child()
    c.do("alloc 50")
    code, out, _ = cli(["--pid", str(c.pid), "--count", "2",
                        "--interval", "0.05"], capsys)
    assert code == 0
    assert "sample 2 at" in out
    summary = out[out.index("peaks over 2 samples (stopped: count)"):]
    row = next(line for line in summary.splitlines()
               if line.split()[:1] == [str(c.pid)])
    assert float(row.split()[1]) >= 50  # PEAK MiB
    assert "import subprocess" in row  # the command line


def test_cli_json_with_table_on_stderr_and_duration(child, capsys):
    c = child()
    started = time.monotonic()
    code, out, err = cli(["--pid", str(c.pid), "--duration", "0.2",
                          "--interval", "0.05", "--json", "--table"], capsys)
    elapsed = time.monotonic() - started
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # pure JSON
    samples, summary = records[:-1], records[-1]
    assert summary["stopped_by"] == "duration"
    # One JSON line per sample taken, numbered in order.
    assert [r["n"] for r in samples] == list(range(1, summary["samples"] + 1))
    _check_duration_run(summary["samples"], elapsed, duration=0.2,
                        interval=0.05)
    assert "sample 1 at" in err and "peaks over" in err


@pytest.mark.parametrize("argv, words", [
    (["--pid", "1", "--interval", "-1"], ["--interval", "'-1'", "positive"]),
    (["--pid", "1", "--interval", "abc"], ["--interval", "'abc'"]),
    (["--name", "(oops"], ["--name", "'(oops'", "regular expression"]),
    (["--pid", "0"], ["--pid", "'0'", "positive integer"]),
    (["--pid", "1", "--count", "0"], ["--count", "'0'"]),
    ([], ["--pid", "--name"]),
])
def test_cli_rejects_bad_input(argv, words, capsys):
    code, out, err = cli(argv, capsys)
    assert code == 2 and out == ""
    for word in words:
        assert word in err


def test_cli_rejects_pid_that_does_not_exist(capsys):
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    code, _, err = cli(["--pid", str(dead.pid)], capsys)
    assert code == 2
    assert f"no process with pid {dead.pid}" in err


def test_cli_does_not_track_itself_when_pattern_matches_its_argv(child):
    marker = f"mtk-{uuid.uuid4().hex}"
    c = child(marker)
    out = subprocess.run(
        [sys.executable, "-m", "offramp", "memtrack", "--name", marker,
         "--count", "1", "--json"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    pids = {json.loads(line)["pid"] for line in out.splitlines()[:-1]}
    assert pids == {c.pid}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_signal_prints_summary_and_exits_0(child, sig):
    c = child()
    proc = subprocess.Popen(
        [sys.executable, "-m", "offramp", "memtrack", "--pid", str(c.pid),
         "--interval", "0.05", "--json"],
        stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["pid"] == c.pid
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    summary = json.loads(rest.splitlines()[-1])
    assert summary["type"] == "summary"
    assert summary["stopped_by"] == "signal"
    assert summary["processes"][0]["pid"] == c.pid
