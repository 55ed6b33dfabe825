"""``offramp lint`` and its flake8 plugin."""

import os
import subprocess
import sys

from offramp.migrate.lint import lint

from .conftest import offramp

SOURCE = """\
import time
import eventlet
from eventlet import greenthread
from eventlet.semaphore import Semaphore
from unittest import mock


def f():
    eventlet.spawn(f)
    greenthread.spawn_n(f)
    time.sleep(0)
    time.sleep(1)
    Semaphore(2)
    eventlet.monkey_patch()


@mock.patch('threading.Event')
def test(ev):
    pass
"""

EXPECTED = [
    (2, 1, "OFR301"), (3, 1, "OFR301"), (4, 1, "OFR301"),
    (9, 5, "OFR102"), (10, 5, "OFR102"), (11, 5, "OFR201"), (13, 5, "OFR105"), (17, 2, "OFR202"),
]


def write(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "mod.py").write_text(SOURCE)
    (pkg / "clean.py").write_text("import threading\nthreading.Event()\n")
    return pkg


def test_findings_and_codes(tmp_path):
    pkg = write(tmp_path)
    found = [(f.line, f.col, f.code) for f in lint(str(pkg))]
    assert found == EXPECTED  # monkey_patch needs design: scan reports it, lint does not


def test_allowlist_silences_only_the_import_check(tmp_path):
    pkg = write(tmp_path)
    found = [(f.line, f.code) for f in lint(str(pkg), allow=("mod.py",))]
    assert [c for _, c in found] == ["OFR102", "OFR102", "OFR201", "OFR105", "OFR202"]
    found = lint(str(pkg), allow=(f"{pkg}/*",))
    assert "OFR301" not in {f.code for f in found}


def test_cli_output_format_and_exit_code(tmp_path):
    pkg = write(tmp_path)
    out = offramp("lint", str(pkg))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    assert lines[3] == (f"{pkg}/mod.py:9:5 OFR102 eventlet.spawn() starts a green thread; "
                        "use offramp.spawn() or an offramp executor")
    clean = offramp("lint", str(pkg / "clean.py"))
    assert (clean.returncode, clean.stdout) == (0, "")
    several = offramp("lint", str(pkg / "clean.py"), str(pkg / "mod.py"))  # as pre-commit calls it
    assert several.returncode == 1 and len(several.stdout.splitlines()) == len(EXPECTED)
    missing = offramp("lint", str(tmp_path / "missing"))
    assert missing.returncode == 2 and "missing" in missing.stderr


def test_unparseable_file_is_reported(tmp_path):
    (tmp_path / "bad.py").write_text("import eventlet\ndef (:\n")
    found = lint(str(tmp_path))
    assert [(f.line, f.code) for f in found] == [(1, "OFR000")]
    assert "SyntaxError" in found[0].message


def test_flake8_plugin(tmp_path):
    pkg = write(tmp_path)
    cmd = [sys.executable, "-m", "flake8", "--select", "OFR", str(pkg / "mod.py")]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    got = [tuple(line.split(" ")[0].split(":")[1:3]) + (line.split(" ")[1],)
           for line in out.stdout.splitlines()]
    assert out.returncode == 1
    assert got == [(str(line), str(col), code) for line, col, code in EXPECTED]
    allowed = subprocess.run(cmd + ["--offramp-allow", "*/mod.py"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert "OFR301" not in allowed.stdout and "OFR102" in allowed.stdout


def test_pre_commit_hooks_file_names_the_cli():
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    with open(os.path.join(root, ".pre-commit-hooks.yaml")) as fh:
        text = fh.read()
    assert "- id: offramp-lint\n" in text and "entry: offramp lint\n" in text
    assert "types: [python]" in text
