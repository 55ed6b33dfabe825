"""What the real CLI prints into a pipe, a terminal, and a pipe closed early."""

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from offramp._cli._output import CLOSED_PIPE_STATUS, plain_table
from offramp.migrate import _report
from offramp.migrate.trend import parse_date, trend

# 3,000 usages: every format below prints far more than a pipe holds (64 KiB),
# so the command is still writing when its reader goes away.
MANY = "import eventlet\n\n\ndef f():\n" + "    eventlet.sleep(1)\n" * 3000
DEEP = "pkg/" + "/".join(f"level_{i:02d}_of_a_deep_package" for i in range(4))


def run_piped(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """``offramp ARGS | cat``: stdout is a pipe, not a terminal."""
    return subprocess.run([sys.executable, "-m", "offramp", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def run_head_1(*args, cwd=None) -> tuple[str, subprocess.Popen, str]:
    """``offramp ARGS | head -1``: read one line, then close the pipe.

    stdout is buffered, as it is by default: with PYTHONUNBUFFERED, CPython
    takes the partial write cut short by the closing reader as complete,
    and the command exits 0 without ever seeing the broken pipe.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen([sys.executable, "-m", "offramp", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline().decode()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return first, proc, err


@pytest.fixture
def many(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "many.py").write_text(MANY)
    return tmp_path


@pytest.mark.parametrize("args,first", [
    (["scan", "--json", "."], "{"),
    (["scan", "."], "3001 lines mention eventlet"),
    (["scan", "--csv", "."], "path,line,col"),
    (["lint", "."], "./pkg/many.py:1:1 OFR301"),
    (["rewrite", "."], "--- "),
])
def test_closed_pipe_ends_quietly(many, args, first):
    line, proc, err = run_head_1(*args, cwd=many)
    assert line.startswith(first)
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert proc.returncode == CLOSED_PIPE_STATUS  # 141, what a shell shows for grep


def test_closed_pipe_ends_trend_quietly(repo):
    repo.commit("2022-01-01", {"a.py": "import eventlet\n"})
    # 1,826 daily points: a table far larger than the pipe.
    line, proc, err = run_head_1("trend", repo.path, "--every", "1d", "--since", "2022-01-01",
                                 "--until", "2026-12-31")
    assert line.startswith("eventlet references over time")
    assert err == "" and proc.returncode == CLOSED_PIPE_STATUS


def test_closed_pipe_ends_memtrack_quietly():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        # Each sample is written as it is taken: once the reader is gone,
        # the next one hits the closed pipe in the sampling thread.
        line, proc, err = run_head_1("memtrack", "--pid", str(sleeper.pid), "--json",
                                     "--interval", "0.05", "--count", "100000")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert line.startswith('{"type": "sample"')
    assert err == "" and proc.returncode == CLOSED_PIPE_STATUS


def test_piped_scan_prints_every_cell_in_full(tmp_path):
    (tmp_path / DEEP).mkdir(parents=True)
    (tmp_path / DEEP / "manager.py").write_text(
        "import eventlet\n\n\ndef f():\n    eventlet.sleep(1)\n    eventlet.spawn_n(f)\n")
    out = run_piped("scan", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "…" not in out.stdout
    lines = out.stdout.splitlines()
    for location, kind in ((f"{DEEP}/manager.py:5:5", "sleep"),
                           (f"{DEEP}/manager.py:6:5", "spawn")):
        assert any(line.split()[:2] == [location, kind] for line in lines), out.stdout
    # The replacement text is whole too.
    row = next(line for line in lines if line.startswith("sleep "))
    assert row.split(None, 3)[3] == "time.sleep (sleep(0) -> offramp.cooperative_yield())"


def test_piped_trend_prints_whole_dates_and_commits(repo):
    sha = repo.commit("2025-06-04", {"a.py": "import eventlet\n"})
    out = run_piped("trend", repo.path, "--at", "2025-06-04,2025-06-05")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[3:] if line.strip()]
    assert rows == [["2025-06-04", "2025-06-04", sha[:12], "1", "1", "0", "0"],
                    ["2025-06-05", "2025-06-05", sha[:12], "1", "1", "0", "0"]]


def test_terminal_gets_rich_tables_that_wrap_instead_of_cutting(tmp_path):
    (tmp_path / DEEP).mkdir(parents=True)
    (tmp_path / DEEP / "manager.py").write_text("import eventlet\neventlet.sleep(1)\n")
    env = dict(os.environ, COLUMNS="60", LINES="50", TERM="xterm")
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is a real terminal
        os.execve(sys.executable, [sys.executable, "-m", "offramp", "scan", str(tmp_path)], env)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode()
    assert os.waitstatus_to_exitcode(status) == 0, screen
    assert "┃" in screen or "│" in screen  # drawn by rich, not the plain writer
    assert "…" not in screen  # long cells wrap; none is cut short
    # The first column's cells, read top to bottom, hold the folded location whole.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", screen)
    folded = "".join(line.split("│")[1].strip() for line in plain.splitlines()
                     if line.startswith("│"))
    assert f"{DEEP}/manager.py:2:1" in folded


def test_plain_table_aligns_and_keeps_cells():
    out = plain_table("T", ["name", "n"], [["a-very-long-name", "1"], ["b", "22"]], ["n"])
    assert out == ("T\n"
                   "name               n\n"
                   "----------------  --\n"
                   "a-very-long-name   1\n"
                   "b                 22\n\n")


def test_countdown_labels_count_down_then_up(repo):
    for day in ("2025-09-10", "2025-09-24", "2025-10-01", "2025-10-02", "2025-10-08",
                "2025-10-09", "2025-10-30"):
        repo.commit(day, {"a.py": f"# eventlet {day}\n"})
    points, _ = trend(repo.path, at="2025-09-10,2025-09-24,2025-10-01,2025-10-02,2025-10-08,"
                                    "2025-10-09,2025-10-30,Late=2025-11-01", utf8=True)
    labels = _report.countdown_labels(points, parse_date("2025-10-01"), "F")
    assert labels == ["F-3", "F-1", "F-0", "F+1", "F+1", "F+2", "F+5", "Late"]
    out = run_piped("trend", repo.path, "--at", "2025-09-24,2025-10-01,2025-10-02,2025-10-09",
                    "--countdown", "2025-10-01:F", "--mermaid")
    assert out.returncode == 0, out.stderr
    assert '[F-1, F-0, "F+1", "F+2"]' in out.stdout


def test_no_points_says_why_and_what_the_history_covers(repo):
    repo.commit("2025-06-04", {"a.py": "import eventlet\n"})
    repo.commit("2025-06-05", {"a.py": "import eventlet\n# eventlet\n"})
    # Weekly from April: every date falls before the first commit.
    out = run_piped("trend", repo.path, "--every", "7d", "--since", "2025-04-01")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == (
        "offramp trend: no points: the history covers 2025-06-04 to 2025-06-05 "
        "(first-parent commits), and all 10 requested dates (2025-04-01 to 2025-06-03) "
        "are before its first commit. Ask for dates from 2025-06-04 on, "
        "e.g. --since 2025-06-04, or --at 2025-06-05")
    out = run_piped("trend", repo.path, "--tags", "v9*")
    assert out.returncode == 1
    assert "no tag matches 'v9*'" in out.stderr and "2025-06-04 to 2025-06-05" in out.stderr
    # The advice works.
    out = run_piped("trend", repo.path, "--every", "7d", "--since", "2025-06-04", "--json")
    assert out.returncode == 0
    assert [(p["date"], p["lines"]) for p in json.loads(out.stdout)] == [("2025-06-04", 1)]


def test_closed_pipe_ends_services_quietly(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "cmd.py").write_text("import eventlet\n\n\ndef main():\n"
                                             "    eventlet.sleep(1)\n")
    scripts = "".join(f"    service-{i} = pkg.cmd:main\n" for i in range(400))
    (tmp_path / "setup.cfg").write_text(f"[entry_points]\nconsole_scripts =\n{scripts}")
    # 400 services, one table each: far more than a pipe holds.
    line, proc, err = run_head_1("services", str(tmp_path))
    assert line.startswith("Entry points of")
    assert err == "" and proc.returncode == CLOSED_PIPE_STATUS
