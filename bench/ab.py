"""A/B benchmark: cellsched in threading mode against eventlet mode.

Runs the same cells and the same load once per mode, alternating the
modes over several rounds (T,E then E,T, ...) so that drift on a shared
machine hits both modes alike, and resets the cells before every run.

Two stacks:

* ``embedded``: SQLite cells, scheduler and load client in one process
  over the in-process ``fake://`` transport (``bench/ab_embedded.py``);
* ``real``: RabbitMQ, MariaDB cells, ``cellsched serve --workers 2`` and
  the load from a separate ``cellsched load`` process.  The load client
  always runs in one mode (``--client-mode``), so only the server differs.

Per run it records throughput, p50/p95/p99 latency, and per worker
process RSS after warm-up, at peak and at the end, peak threads and CPU
seconds of the measured phase, sampled from outside with
``offramp.memtrack``.  It prints a Markdown table of medians with
threading/eventlet ratios and writes ``ab.json``, ``ab.md`` and ``ab.png``
to ``--out``.  ``--max-regression R`` exits 1 when threading is worse than
eventlet by more than a factor R on RSS, throughput or p99.

    python bench/ab.py --stack both --rounds 3 -n 300 -c 10
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from offramp.memtrack import Tracker, sample_tree

MODES = ("threading", "eventlet")
STACKS = ("embedded", "real")
HERE = Path(__file__).resolve().parent
CELLSCHED = str(Path(sys.executable).with_name("cellsched"))
MIB = 1024 * 1024

# metric -> (label, unit, which direction is better)
METRICS = {
    "throughput_rps": ("throughput", "req/s", "higher"),
    "p50_ms": ("p50 latency", "ms", "lower"),
    "p95_ms": ("p95 latency", "ms", "lower"),
    "p99_ms": ("p99 latency", "ms", "lower"),
    "rss_warm_mib": ("RSS/worker after warm-up", "MiB", "lower"),
    "rss_peak_mib": ("RSS/worker at peak", "MiB", "lower"),
    "rss_end_mib": ("RSS/worker at end", "MiB", "lower"),
    "threads": ("threads/worker (peak)", "", "lower"),
    "cpu_s": ("CPU s (measured phase, all workers)", "s", "lower"),
    "machine_cpu_s": ("CPU s (measured phase, whole machine)", "s", "lower"),
}
# The goals of issue 6, and what --max-regression checks.
GOALS = ("rss_peak_mib", "throughput_rps", "p99_ms")


@dataclasses.dataclass
class Run:
    stack: str
    mode: str
    round: int
    workers: int
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rss_warm_mib: float
    rss_peak_mib: float
    rss_end_mib: float
    threads: int
    cpu_s: float
    outcomes: dict
    greenlet_loaded: bool
    loadavg: float
    machine_cpu_s: float = 0.0
    cpu_by_process: dict = dataclasses.field(default_factory=dict)
    pinned: bool = False


# --- one measured run -------------------------------------------------------

def measure(pids: list[int], drive, interval: float) -> dict:
    """Sample ``pids`` before, during and after ``drive()``; its load
    result dict comes back with the memory figures of the worker processes.
    """
    warm = {s.pid: s for s in sample_tree(pids) if s.pid in pids}
    machine = _machine_busy_s()
    by_process = _cpu_by_process()
    with Tracker(pids, interval=interval) as tracker:
        result = drive()
        end = {s.pid: s for s in sample_tree(pids) if s.pid in pids}
        machine = _machine_busy_s() - machine
        by_process = _cpu_by_process(since=by_process)
    peaks = {p.pid: p for p in tracker.peaks() if p.pid in pids}

    def per_worker(values):
        return statistics.mean(values) / MIB if values else 0.0

    lat = result["latency_ms"]
    return {
        "greenlet_loaded": any(map(greenlet_loaded, pids)),
        "pinned": all(map(pinned_to_one_cpu, pids)),
        # Other jobs on the machine skew a run; the 1-minute load average
        # at its end says how busy the machine was.
        "loadavg": os.getloadavg()[0],
        "workers": len(pids),
        "throughput_rps": result["throughput_rps"],
        "p50_ms": lat["p50"], "p95_ms": lat["p95"], "p99_ms": lat["p99"],
        "rss_warm_mib": per_worker([s.rss for s in warm.values()]),
        "rss_peak_mib": per_worker([
            max(peaks[p].peak_rss if p in peaks else 0, warm[p].rss,
                end[p].rss if p in end else 0) for p in warm]),
        "rss_end_mib": per_worker([s.rss for s in end.values()]),
        "threads": max([p.peak_threads for p in peaks.values()]
                       + [s.threads for s in end.values()], default=0),
        "cpu_s": sum(end[p].cpu_time - warm[p].cpu_time
                     for p in warm if p in end),
        # Everything else too: the load client, the broker, the databases.
        # On a 2-core machine they compete with the workers for the CPU.
        "machine_cpu_s": machine,
        "cpu_by_process": _cpu_groups(by_process, pids, machine),
        "outcomes": result["outcomes"],
    }


def _cpu_by_process(since: dict | None = None) -> dict:
    """CPU seconds per live process ``{pid: (name, seconds)}``; with
    ``since``, only what each process spent after that snapshot."""
    import psutil
    now = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is not None:
            now[proc.pid] = (proc.info["name"] or "?",
                             times.user + times.system)
    if since is None:
        return now
    return {pid: (name, cpu - since.get(pid, (name, 0.0))[1])
            for pid, (name, cpu) in now.items()}


def _cpu_groups(by_process: dict, workers: list[int], machine: float
                ) -> dict:
    """Where the machine's CPU went during the measured phase: the workers,
    each other process name that used 10 ms or more, and what processes
    that ended during the phase (the real stack's load client) used,
    which is the rest of the machine's busy time."""
    groups: dict[str, float] = {}
    for pid, (name, cpu) in by_process.items():
        key = "workers" if pid in workers else name
        groups[key] = groups.get(key, 0.0) + cpu
    groups = {k: round(v, 3) for k, v in groups.items()
              if v >= 0.01 or k == "workers"}
    groups["ended during the phase, and the kernel"] = round(
        max(0.0, machine - sum(groups.values())), 3)
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def _machine_busy_s() -> float:
    import psutil
    t = psutil.cpu_times()
    # guest time is already inside user time on Linux: not summed again.
    return sum(getattr(t, f, 0.0) for f in (
        "user", "nice", "system", "irq", "softirq", "steal"))


def greenlet_loaded(pid: int) -> bool:
    """Whether greenlet's C extension is mapped into ``pid``: seen from
    outside, proof that eventlet (which needs it) was imported.
    """
    import psutil
    try:
        return any("greenlet" in os.path.basename(m.path)
                   for m in psutil.Process(pid).memory_maps())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def pinned_to_one_cpu(pid: int) -> bool:
    """Whether ``pid`` may run on one CPU only (``offramp.pin_worker``)."""
    try:
        return len(os.sched_getaffinity(pid)) == 1
    except OSError:
        return False


def child_env(mode: str, extra: dict) -> dict:
    env = dict(os.environ, OFFRAMP_CONCURRENCY=mode, **extra)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run_embedded(mode: str, opts, scratch: Path) -> dict:
    cmd = [sys.executable, str(HERE / "ab_embedded.py"),
           "--data-dir", str(scratch / f"embedded-{mode}"),
           "--cells", str(opts.cells), "--hosts", str(opts.hosts),
           "--host-vcpus", str(opts.host_vcpus),
           "--warmup", str(opts.warmup), "-n", str(opts.requests),
           "-c", str(opts.embedded_concurrency)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env=child_env(mode, opts.stack_env["embedded"][mode]))
    try:
        hello = _read_json_line(proc, "warm")
        if hello["mode"] != mode:
            raise RuntimeError(f"asked for {mode} mode, got {hello['mode']}")

        def drive():
            proc.stdin.write("go\n")
            proc.stdin.flush()
            return _read_json_line(proc, "done")["load"]

        figures = measure([proc.pid], drive, opts.interval)
        proc.stdin.write("exit\n")
        proc.stdin.flush()
        if proc.wait(timeout=60) != 0:
            raise RuntimeError(f"embedded run exited {proc.returncode}")
        return figures
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _read_json_line(proc, phase: str) -> dict:
    for line in proc.stdout:
        if line.startswith("{"):
            obj = json.loads(line)
            if obj.get("phase") == phase:
                return obj
    raise RuntimeError(f"embedded run ended (exit {proc.wait()}) before "
                       f"phase {phase!r}")


class RealStack:
    """MariaDB cells and a RabbitMQ topic owned by one harness run.

    The databases get unique names and are dropped on close; every run
    recreates and reseeds them, so both modes start from identical cells.
    """

    def __init__(self, opts, scratch: Path):
        self.opts = opts
        tag = uuid.uuid4().hex[:8]
        self.topic = f"ab-{tag}"
        self.databases = [f"ab_{tag}_cell{i}" for i in range(opts.cells)]
        self.cells_file = scratch / "real-cells.json"
        host = opts.mysql
        self.cells_file.write_text(json.dumps({"cells": {
            db: f"mysql+pymysql://{host}/{db}" for db in self.databases}}))
        self.data_dir = scratch / "real-data"
        self.server_queues: list[str] = []
        self.common = ["--cells-file", str(self.cells_file),
                       "--data-dir", str(self.data_dir)]

    def _sql(self, statements: list[str]) -> None:
        import pymysql
        user_host, _, _ = self.opts.mysql.partition("/")
        user, _, hostport = user_host.rpartition("@")
        user, _, password = user.partition(":")
        host, _, port = hostport.partition(":")
        conn = pymysql.connect(host=host, port=int(port or 3306),
                               user=user or "root", password=password)
        try:
            with conn.cursor() as cur:
                for stmt in statements:
                    cur.execute(stmt)
        finally:
            conn.close()

    def reset(self) -> None:
        self._sql([s for db in self.databases for s in
                   (f"DROP DATABASE IF EXISTS `{db}`",
                    f"CREATE DATABASE `{db}`")])
        env = child_env("threading", {})
        for sub in (["init"], ["seed", "--hosts", str(self.opts.hosts),
                               "--vcpus", str(self.opts.host_vcpus)]):
            subprocess.run([CELLSCHED, *sub, *self.common], env=env,
                           check=True, capture_output=True, timeout=120)

    def close(self) -> None:
        self._sql([f"DROP DATABASE IF EXISTS `{db}`" for db in self.databases])
        self._delete_queues()

    def _delete_queues(self) -> None:
        """oslo.messaging's topic and per-server queues outlive their
        consumers; a shared broker should not collect them run after run.
        """
        import kombu
        url = re.sub(r"^rabbit://", "amqp://", self.opts.transport_url)
        with kombu.Connection(url, connect_timeout=5) as conn:
            channel = conn.channel()
            for name in [self.topic, *self.server_queues]:
                try:
                    channel.queue_delete(name)
                except Exception:  # already gone: nothing to clean
                    channel = conn.channel()

    def rpc_args(self) -> list[str]:
        return ["--transport-url", self.opts.transport_url,
                "--topic", self.topic]

    def load(self, requests: int) -> dict:
        out = subprocess.run(
            [CELLSCHED, "load", "-n", str(requests),
             "-c", str(self.opts.concurrency), "--json", "--no-progress",
             *self.rpc_args(), *self.common],
            env=child_env(self.opts.client_mode, {}), check=True,
            capture_output=True, text=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run(self, mode: str) -> dict:
        self.reset()
        serve = subprocess.Popen(
            [CELLSCHED, "serve", "--workers", str(self.opts.workers),
             "--stats-interval", "0", *self.rpc_args(), *self.common],
            env=child_env(mode, self.opts.stack_env["real"][mode]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            pids = self._wait_for_workers(serve)
            self.server_queues += [f"{self.topic}.{socket.gethostname()}-{pid}"
                                   for pid in pids]
            if self.opts.warmup:
                self.load(self.opts.warmup)
            return measure(pids, lambda: self.load(self.opts.requests),
                           self.opts.interval)
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()

    def _wait_for_workers(self, serve) -> list[int]:
        """Worker pids from their "serving" log lines; stderr keeps being
        drained afterwards so a chatty worker never blocks on a full pipe.
        """
        pids: list[int] = []
        ready = threading.Event()
        tail: list[str] = []

        def reader():
            for line in serve.stderr:
                tail[:] = (tail + [line])[-20:]
                m = re.search(r"cellsched worker (\d+) serving", line)
                if m:
                    pids.append(int(m.group(1)))
                    if len(pids) >= self.opts.workers:
                        ready.set()
            ready.set()

        threading.Thread(target=reader, daemon=True).start()
        if not ready.wait(60) or len(pids) < self.opts.workers:
            raise RuntimeError("cellsched serve did not start its workers:\n"
                               + "".join(tail))
        return pids[:self.opts.workers]


# --- rounds, summary, verdicts ------------------------------------------------

def mode_order(rounds: int) -> list[tuple[int, str]]:
    """T,E, E,T, T,E, ...: each mode runs first in half of the rounds."""
    order = []
    for r in range(rounds):
        pair = MODES if r % 2 == 0 else MODES[::-1]
        order += [(r, m) for m in pair]
    return order


def summarize(runs: list[dict]) -> dict:
    """Median per stack, mode and metric, and the threading/eventlet ratio."""
    summary = {}
    for stack in STACKS:
        rows = [r for r in runs if r["stack"] == stack]
        if not rows:
            continue
        by_mode = {m: [r for r in rows if r["mode"] == m] for m in MODES
                   if any(r["mode"] == m for r in rows)}
        medians = {m: {k: statistics.median(r[k] for r in mine) for k in METRICS}
                   for m, mine in by_mode.items()}
        # The spread says how far a shared machine moved the runs.
        ranges = {m: {k: (min(r[k] for r in mine), max(r[k] for r in mine))
                      for k in METRICS}
                  for m, mine in by_mode.items()}
        ratios, paired = {}, {}
        if len(medians) == 2:
            for k in METRICS:
                e = medians["eventlet"][k]
                ratios[k] = medians["threading"][k] / e if e else None
                paired[k] = _paired_ratio(rows, k)
        summary[stack] = {
            "medians": medians, "ranges": ranges, "ratios": ratios,
            "paired_ratios": paired,
            "rounds": max(r["round"] for r in rows) + 1,
            "loadavg": {m: statistics.median(r["loadavg"] for r in rows
                                             if r["mode"] == m) for m in MODES
                        if any(r["mode"] == m for r in rows)},
            "runs": [{"mode": r["mode"], "greenlet_loaded": r["greenlet_loaded"],
                      "pinned": r.get("pinned", False)} for r in rows]}
    return summary


def _paired_ratio(rows: list[dict], metric: str) -> float | None:
    """Median over rounds of threading/eventlet within the round.

    The two runs of a round are back to back, so load from other jobs
    that changes between rounds cancels out better than in the ratio of
    the medians.
    """
    per_round = []
    for rnd in sorted({r["round"] for r in rows}):
        pair = {r["mode"]: r[metric] for r in rows if r["round"] == rnd}
        if len(pair) == 2 and pair["eventlet"]:
            per_round.append(pair["threading"] / pair["eventlet"])
    return statistics.median(per_round) if per_round else None


def goal_met(metric: str, ratio: float | None) -> bool | None:
    if ratio is None:
        return None
    return ratio >= 1.0 if METRICS[metric][2] == "higher" else ratio <= 1.0


def regressions(summary: dict, max_ratio: float) -> list[str]:
    """Where threading is worse than eventlet by more than ``max_ratio``."""
    found = []
    for stack, s in summary.items():
        for metric in GOALS:
            ratio = s["ratios"].get(metric)
            if ratio is None:
                continue
            worse = 1 / ratio if METRICS[metric][2] == "higher" else ratio
            if worse > max_ratio:
                found.append(f"{stack}: {METRICS[metric][0]} threading/"
                             f"eventlet = {ratio:.3f} (worse by x{worse:.3f}, "
                             f"limit x{max_ratio:g})")
    return found


def render_markdown(summary: dict, meta: dict) -> str:
    lines = []
    for stack, s in summary.items():
        env = meta["env"][stack]
        tuned = {k: v for k, v in env["threading"].items()
                 if env["eventlet"].get(k) != v}
        lines += [f"**{stack}** ({meta['stacks'][stack]}; median of "
                  f"{s['rounds']} rounds per mode"
                  + "".join(f"; threading runs with {k}={v}"
                            for k, v in sorted(tuned.items())) + ")", "",
                  "| metric | threading: median (min–max) | eventlet: median (min–max) "
                  "| T/E | T/E per round (median) | goal |",
                  "| --- | ---: | ---: | ---: | ---: | --- |"]
        for k, (label, unit, better) in METRICS.items():
            t, e = (_cell(s, mode, k) for mode in MODES)
            ratio = s["ratios"].get(k)
            paired = s.get("paired_ratios", {}).get(k)
            goal = ""
            if k in GOALS:
                met = goal_met(k, ratio)
                goal = ("≥ 1.0: " if better == "higher" else "≤ 1.0: ") + (
                    "met" if met else "NOT met" if met is False else "n/a")
            lines.append(f"| {label}{f' ({unit})' if unit else ''} | "
                         f"{t} | {e} | "
                         f"{'' if ratio is None else f'{ratio:.2f}'} | "
                         f"{'' if paired is None else f'{paired:.2f}'} | {goal} |")
        for key, label in (("greenlet_loaded", "greenlet/eventlet loaded in the worker"),
                           ("pinned", "each worker pinned to one CPU")):
            seen = [_yes_no(sorted({r[key] for r in s["runs"] if r["mode"] == m}))
                    for m in MODES]
            lines.append(f"| {label} | {seen[0]} | {seen[1]} | | | |")
        lines.append(f"| machine load average (1 min, median) | "
                     f"{_fmt(s['loadavg']['threading'])} | "
                     f"{_fmt(s['loadavg']['eventlet'])} | | | |")
        lines.append("")
    return "\n".join(lines)


def _cell(s: dict, mode: str, metric: str) -> str:
    if mode not in s["medians"]:
        return ""
    low, high = s["ranges"][mode][metric]
    spread = f" ({_fmt(low)}–{_fmt(high)})" if low != high else ""
    return _fmt(s["medians"][mode][metric]) + spread


def _yes_no(values: list[bool]) -> str:
    return "/".join("yes" if v else "no" for v in values) or ""


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:.0f}" if isinstance(v, int) or v >= 100 else f"{v:.2f}" \
        if v < 10 else f"{v:.1f}"


# --- outputs -------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    """Readers never see a half-written file: write aside, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_chart(path: Path, summary: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    # Threads are left out: eventlet runs one OS thread, so that ratio
    # dwarfs the others; the table has the counts.
    keys = [k for k in METRICS if k not in ("p50_ms", "threads")]
    fig, axes = plt.subplots(1, len(summary), figsize=(7 * len(summary), 4.5),
                             squeeze=False)
    for ax, (stack, s) in zip(axes[0], summary.items()):
        ratios = [s["ratios"].get(k) or 0 for k in keys]
        colors = ["tab:green" if goal_met(k, r) else "tab:red"
                  for k, r in zip(keys, ratios)]
        ax.barh([METRICS[k][0] for k in keys], ratios, color=colors)
        ax.axvline(1.0, color="black", linewidth=1)
        ax.invert_yaxis()
        ax.set_xlabel("threading / eventlet (green: threading not worse)")
        ax.set_title(f"{stack} stack, median of {s['rounds']} rounds")
        for i, r in enumerate(ratios):
            ax.text(r, i, f" {r:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def write_outputs(out: Path, runs: list[dict], summary: dict, meta: dict,
                  markdown: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "summary": summary, "runs": runs}

    def dump(tmp):
        Path(tmp).write_text(json.dumps(doc, indent=1, sort_keys=True))

    _atomic_write(out / "ab.json", dump)
    _atomic_write(out / "ab.md", lambda tmp: Path(tmp).write_text(markdown))
    write_chart(out / "ab.png", summary)


# --- command line ----------------------------------------------------------------

def _env_pair(text: str) -> tuple[tuple[str, ...], str, str]:
    """[STACK:]KEY=VALUE -> (stacks, key, value): a pool size that suits
    MariaDB cells (network waits) can hurt SQLite ones (GIL-bound reads).
    """
    key, sep, value = text.partition("=")
    stack, colon, name = key.rpartition(":")
    if not sep or not name or (colon and stack not in STACKS):
        raise argparse.ArgumentTypeError(
            f"expected [STACK:]KEY=VALUE with STACK one of {', '.join(STACKS)}, "
            f"got {text!r}")
    return ((stack,) if colon else STACKS), name, value


def _stack_env(pairs, stack: str) -> dict:
    return {key: value for stacks, key, value in pairs if stack in stacks}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stack", choices=(*STACKS, "both"), default="both")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds; each runs both modes (default 3)")
    p.add_argument("-n", "--requests", type=int, default=1200)
    p.add_argument("-c", "--concurrency", type=int, default=10,
                   help="clients of the real stack (default 10)")
    p.add_argument("--embedded-concurrency", type=int, default=64,
                   help="clients of the embedded stack (default 64). The "
                        "fake:// listener sleeps 50 ms whenever its queue is "
                        "empty, so throughput there is capped near clients/50 ms "
                        "in both modes until enough clients keep it busy")
    p.add_argument("--warmup", type=int, default=150,
                   help="requests before the 'after warm-up' sample; enough "
                        "for every worker's pools to reach their full size")
    p.add_argument("--cells", type=int, default=3)
    p.add_argument("--hosts", type=int, default=20, help="hosts per cell")
    p.add_argument("--host-vcpus", type=int, default=32,
                   help="vCPUs per host; each request takes one")
    p.add_argument("--workers", type=int, default=2, help="real stack")
    p.add_argument("--interval", type=float, default=0.1,
                   help="memtrack sampling interval, s")
    p.add_argument("--transport-url",
                   default="rabbit://guest:guest@127.0.0.1:5672/")
    p.add_argument("--mysql", default="root@127.0.0.1:3306",
                   help="USER[:PASS]@HOST[:PORT] for the real stack's cells")
    p.add_argument("--client-mode", choices=MODES, default="threading",
                   help="mode of the real stack's load process, same for A and B")
    p.add_argument("--env", type=_env_pair, action="append", default=[],
                   metavar="[STACK:]KEY=VALUE",
                   help="extra environment, both modes (one stack with STACK:)")
    p.add_argument("--threading-env", type=_env_pair, action="append",
                   default=[], metavar="[STACK:]KEY=VALUE",
                   help="extra environment for threading-mode runs only "
                        "(one stack with STACK:)")
    p.add_argument("--out", type=Path, default=Path("out/ab"))
    p.add_argument("--max-regression", type=float, metavar="R",
                   help="exit 1 if threading is worse than eventlet by more "
                        "than a factor R on RSS, throughput or p99")
    opts = p.parse_args(argv)
    for name in ("rounds", "requests", "concurrency", "embedded_concurrency", "cells",
                 "hosts", "host_vcpus", "workers"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if opts.warmup < 0:
        p.error("--warmup must be >= 0")
    room = opts.cells * opts.hosts * opts.host_vcpus
    if opts.warmup + opts.requests > room:
        p.error(f"--warmup {opts.warmup} + --requests {opts.requests} do not "
                f"fit the {room} vCPUs of {opts.cells} cells x {opts.hosts} "
                f"hosts x {opts.host_vcpus}; the rest would fail with "
                f"NoValidHost and measure a different path. Raise --hosts, "
                f"--host-vcpus or --cells.")
    if opts.max_regression is not None and opts.max_regression < 1.0:
        p.error("--max-regression must be >= 1.0 (1.0: no regression allowed)")
    opts.stack_env = {
        stack: {"eventlet": _stack_env(opts.env, stack),
                "threading": {**_stack_env(opts.env, stack),
                              **_stack_env(opts.threading_env, stack)}}
        for stack in STACKS}
    return opts


def main(argv=None) -> int:
    opts = parse_args(argv)
    stacks = STACKS if opts.stack == "both" else (opts.stack,)
    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", "bench/ab.py", *(argv or sys.argv[1:])]),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "requests": opts.requests, "concurrency": opts.concurrency,
        "embedded_concurrency": opts.embedded_concurrency,
        "warmup": opts.warmup, "cells": opts.cells, "hosts": opts.hosts,
        "host_vcpus": opts.host_vcpus,
        "env": opts.stack_env,
        "stacks": {
            "embedded": f"SQLite x{opts.cells}, fake:// transport, scheduler "
                        f"and load client ({opts.embedded_concurrency} clients) in 1 process",
            "real": f"RabbitMQ, MariaDB x{opts.cells}, serve --workers "
                    f"{opts.workers}, load process ({opts.concurrency} clients) in "
                    f"{opts.client_mode} mode"},
    }
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="offramp-ab-") as tmp:
        scratch = Path(tmp)
        for stack in stacks:
            real = RealStack(opts, scratch) if stack == "real" else None
            try:
                for rnd, mode in mode_order(opts.rounds):
                    started = time.monotonic()
                    figures = (real.run(mode) if real
                               else run_embedded(mode, opts, scratch))
                    run = Run(stack=stack, mode=mode, round=rnd, **figures)
                    runs.append(dataclasses.asdict(run))
                    print(f"{stack:8} round {rnd + 1} {mode:9} "
                          f"{run.throughput_rps:7.1f} req/s  p99 "
                          f"{run.p99_ms:7.1f} ms  peak RSS/worker "
                          f"{run.rss_peak_mib:6.1f} MiB  threads "
                          f"{run.threads:3}  ({time.monotonic() - started:.0f}s)",
                          file=sys.stderr, flush=True)
            finally:
                if real:
                    real.close()
    summary = summarize(runs)
    markdown = render_markdown(summary, meta)
    failed = (regressions(summary, opts.max_regression)
              if opts.max_regression is not None else [])
    if opts.max_regression is not None:
        markdown += (f"\n--max-regression {opts.max_regression:g}: "
                     + ("; ".join(failed) if failed else "passed") + "\n")
    write_outputs(opts.out, runs, summary, meta, markdown)
    print(markdown)
    print(f"wrote {opts.out}/ab.json, ab.md, ab.png", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
