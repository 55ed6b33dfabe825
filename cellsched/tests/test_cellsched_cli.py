"""The CLI as a user runs it: init/seed/check exit codes, clear errors for
bad input, no oslo.messaging before bootstrap, and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from cellsched_testlib import run_cli, write_cells


def test_init_seed_check_and_check_fails_on_violation(tmp_path):
    data = tmp_path / "data"
    run_cli("init", "--data-dir", data, "--cells", 2)
    run_cli("seed", "--data-dir", data, "--hosts", 3, "--vcpus", 4)
    ok = run_cli("check", "--data-dir", data)
    assert "check: OK" in ok.stdout and "3 nodes" in ok.stdout
    engine = sa.create_engine(f"sqlite:///{data / 'cell2.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE compute_nodes SET vcpus_used = 5 "
                             "WHERE host = 'cell2-host00001'"))
    engine.dispose()
    bad = run_cli("check", "--data-dir", data, check=False)
    assert bad.returncode == 1
    assert "cell2/cell2-host00001: vcpus over-committed: used 5 > total 4" \
        in bad.stdout


def test_seed_handles_50_cells_of_1000_hosts(tmp_path):
    data = tmp_path / "big"
    run_cli("init", "--data-dir", data, "--cells", 50)
    start = time.monotonic()
    run_cli("seed", "--data-dir", data, "--hosts", 1000)
    seconds = time.monotonic() - start
    out = run_cli("check", "--data-dir", data).stdout
    assert out.count("1000 nodes") == 50
    assert seconds < 60


def test_bad_input_gets_a_clear_error(tmp_path):
    cells_file = write_cells(tmp_path, {
        "a": "mysql+pymysql://root:hunter2@127.0.0.1/x",
        "b": "mongodb://root:hunter2@127.0.0.1/x"})
    proc = run_cli("check", "--cells-file", cells_file, check=False)
    assert proc.returncode == 2
    assert "unsupported database driver 'mongodb'" in proc.stderr
    assert "hunter2" not in proc.stderr + proc.stdout
    proc = run_cli("seed", "--data-dir", tmp_path, "--hosts", "-3",
                   check=False)
    assert proc.returncode == 2
    assert "--hosts: expected a positive integer, got -3" in proc.stderr
    proc = run_cli("serve", "--data-dir", tmp_path / "none", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    (tmp_path / "cells.json").write_text('{"cells": {"a": "sqlite:///x"}}')
    proc = run_cli("serve", "--cells-file", tmp_path / "cells.json",
                   "--weighers", "ram,gpu", check=False)
    assert proc.returncode == 2 and "unknown weigher 'gpu'" in proc.stderr


def test_cli_import_does_not_pull_oslo_messaging_before_bootstrap():
    code = ("import sys, cellsched.cli; "
            "bad = [m for m in ('oslo_messaging', 'oslo_service') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_demo_runs_in_the_session_mode(tmp_path):
    mode = os.environ.get("OFFRAMP_CONCURRENCY", "threading")
    start = time.monotonic()
    proc = run_cli("demo", "--data-dir", tmp_path / "demo", cwd=tmp_path)
    elapsed = time.monotonic() - start
    out = proc.stdout
    assert f"mode={mode}" in out
    assert "1000 requests" in out and "p99" in out
    assert "check: OK" in out
    assert "Stats of " in out and "State of " in out
    assert elapsed < 120  # a quick demo: seconds, even on a busy machine


@pytest.mark.offramp_mode("threading")
def test_offramp_pool_sizes_come_from_the_config_file(tmp_path):
    # The first --config-file reaches offramp.bootstrap, so an operator can
    # size the scatter-gather pool next to the [cellsched] options.
    conf = tmp_path / "cellsched.conf"
    conf.write_text("[offramp]\nthreading_pool_sizes = scatter_gather:24\n"
                    "[cellsched]\nweighers = ram:1.0\n")
    proc = run_cli("demo", "-n", 30, "--config-file", conf, "--data-dir",
                   tmp_path / "demo", cwd=tmp_path)
    assert "ThreadPoolExecutor: max_workers: 24" in proc.stdout
