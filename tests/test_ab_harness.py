"""Smoke test of the A/B harness (bench/ab.py).

One tiny embedded round in subprocesses (each mode in its own process, so
the pytest session's mode does not matter), then the regression check on
synthetic results, where the verdict is known in advance.
"""

import ast
import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

pytest.importorskip("cellsched")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def ab():
    spec = importlib.util.spec_from_file_location("ab_harness", BENCH / "ab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.mark.mode_independent
def test_tiny_embedded_run_writes_sane_outputs(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "ab.py"), "--stack", "embedded",
         "--rounds", "1", "--requests", "30", "--concurrency", "4",
         "--embedded-concurrency", "4",
         "--warmup", "5", "--cells", "2", "--hosts", "4",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    doc = json.loads((out / "ab.json").read_text())
    runs = doc["runs"]
    assert sorted(r["mode"] for r in runs) == ["eventlet", "threading"]
    for r in runs:
        assert r["stack"] == "embedded" and r["workers"] == 1
        assert sum(r["outcomes"].values()) == 30
        assert r["throughput_rps"] > 0
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert 10 < r["rss_warm_mib"] <= r["rss_peak_mib"] < 2000
        assert r["rss_end_mib"] <= r["rss_peak_mib"]
        assert r["threads"] >= 1 and r["cpu_s"] >= 0
        # The whole machine's busy time includes the worker's own.
        assert r["machine_cpu_s"] >= 0.9 * r["cpu_s"]
        # Per process: the worker's group agrees with memtrack's figure.
        workers = r["cpu_by_process"]["workers"]
        assert abs(workers - r["cpu_s"]) <= 0.2 * r["cpu_s"] + 0.05, r
    # Seen from outside: eventlet (through greenlet) only in eventlet mode.
    assert {r["mode"]: r["greenlet_loaded"] for r in runs} == {
        "threading": False, "eventlet": True}
    # offramp.pin_worker()'s default, also seen from outside.
    if len(os.sched_getaffinity(0)) > 1:
        assert {r["mode"]: r["pinned"] for r in runs} == {
            "threading": True, "eventlet": False}
    ratios = doc["summary"]["embedded"]["ratios"]
    assert all(ratios[k] > 0 for k in ("throughput_rps", "p99_ms", "rss_peak_mib"))

    md = (out / "ab.md").read_text()
    assert "| metric | threading: median (min–max) | eventlet: median (min–max) | T/E |" in md
    # A run this small proves the plumbing, not a verdict: none is claimed
    # (the verdict is checked on fabricated runs below).
    assert "--max-regression" not in md
    assert re.search(r"\| each worker pinned to one CPU \| (yes|no) \| no \|", md)
    assert md.strip() in proc.stdout

    png = (out / "ab.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert width > 100 and height > 100
    assert not list(out.glob(".ab.*")), "temporary files left behind"


def _runs(stack, threading, eventlet):
    base = dict(stack=stack, workers=2, p50_ms=10, p95_ms=20, rss_warm_mib=50,
                rss_end_mib=60, threads=10, cpu_s=1.0, machine_cpu_s=2.0,
                outcomes={},
                greenlet_loaded=False, loadavg=1.0)
    return [dict(base, mode=mode, round=r, **figures)
            for r in range(3)
            for mode, figures in (("threading", threading), ("eventlet", eventlet))]


def test_max_regression_flags_each_goal(ab):
    same = dict(throughput_rps=100.0, p99_ms=50.0, rss_peak_mib=60.0)
    assert ab.regressions(ab.summarize(_runs("real", same, same)), 1.0) == []

    fat = dict(same, rss_peak_mib=75.0)          # 1.25x RSS
    slow = dict(same, throughput_rps=80.0)       # 1.25x slower
    laggy = dict(same, p99_ms=60.0)              # 1.2x p99
    for threading, word in ((fat, "RSS"), (slow, "throughput"), (laggy, "p99")):
        summary = ab.summarize(_runs("real", threading, same))
        found = ab.regressions(summary, 1.1)
        assert len(found) == 1 and word in found[0], found
        assert ab.regressions(summary, 1.3) == []


def test_max_regression_exits_non_zero(ab, tmp_path, monkeypatch):
    """main() on fabricated runs: the exit status follows the verdict."""
    same = dict(throughput_rps=100.0, p99_ms=50.0, rss_peak_mib=60.0)
    fabricated = _runs("embedded", dict(same, rss_peak_mib=90.0), same)

    def fake_run(mode, opts, scratch):
        run = next(r for r in fabricated if r["mode"] == mode)
        return {k: v for k, v in run.items() if k not in ("stack", "mode", "round")}

    monkeypatch.setattr(ab, "run_embedded", fake_run)
    args = ["--stack", "embedded", "--rounds", "2", "--out", str(tmp_path)]
    assert ab.main(args + ["--max-regression", "1.2"]) == 1
    assert "NOT met" in (tmp_path / "ab.md").read_text()
    assert ab.main(args + ["--max-regression", "2"]) == 0
    assert ab.main(args) == 0


def test_modes_alternate(ab):
    assert ab.mode_order(3) == [(0, "threading"), (0, "eventlet"),
                                (1, "eventlet"), (1, "threading"),
                                (2, "threading"), (2, "eventlet")]


def test_env_can_target_one_stack(ab):
    opts = ab.parse_args(["--threading-env", "real:OFFRAMP_THREADING_POOL_X=15",
                          "--env", "A=1"])
    assert opts.stack_env["real"]["threading"] == {"A": "1", "OFFRAMP_THREADING_POOL_X": "15"}
    assert opts.stack_env["real"]["eventlet"] == {"A": "1"}
    assert opts.stack_env["embedded"]["threading"] == {"A": "1"}
    with pytest.raises(SystemExit):
        ab.parse_args(["--threading-env", "cloud:X=1"])


def test_load_that_would_not_fit_the_cells_is_refused(ab, capsys):
    fits = ["--warmup", "150", "--requests", "810", "--host-vcpus", "16"]
    assert ab.parse_args(fits).requests == 810
    with pytest.raises(SystemExit):
        ab.parse_args(["--warmup", "150", "--requests", "811", "--host-vcpus", "16"])
    err = capsys.readouterr().err
    assert ("--warmup 150 + --requests 811 do not fit the 960 vCPUs of 3 cells x "
            "20 hosts x 16") in err
    assert ab.parse_args(["--requests", "811", "--hosts", "21",
                          "--host-vcpus", "16"]).hosts == 21
    # The default load fits the default cells.
    assert ab.parse_args([]).requests == 1200


def test_scheduler_benchmark_runs_in_this_sessions_mode():
    import offramp
    mode = offramp.current_mode().value
    out = subprocess.run(
        [sys.executable, str(BENCH / "bench_scheduler.py"), "-n", "20",
         "-c", "4", "--warmup", "0", "--hosts", "2"],
        env={**os.environ, "OFFRAMP_CONCURRENCY": mode},
        capture_output=True, text=True, timeout=120, check=True).stdout
    m = re.search(r"^(\w+) mode, 3 SQLite cells x 2 hosts, (any CPU|pinned "
                  r"to CPU \d+), 20 requests, 4 "
                  r"callers: (\d+) req/s, CPU ([\d.]+) ms/request.*outcomes "
                  r"(\{.*?\}), claims lost to concurrent requests \d+$",
                  out, re.M)
    assert m, out
    assert m.group(1) == mode
    # Pinned like a worker: offramp's default pins in threading mode only.
    if len(os.sched_getaffinity(0)) > 1:
        assert (m.group(2) != "any CPU") == (mode == "threading")
    assert int(m.group(3)) > 0 and float(m.group(4)) > 0
    outcomes = ast.literal_eval(m.group(5))
    assert sum(outcomes.values()) == 20 and outcomes.get("selected", 0) > 0
