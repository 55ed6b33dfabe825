"""``offramp scan`` against the real grep, on awkward trees."""

import json
import os
import subprocess
import sys

import pytest

from offramp.migrate import _grep
from offramp.migrate._analyze import analyze
from offramp.migrate.scan import scan

from .conftest import offramp, real_grep

PROD = """\
import eventlet
from eventlet import greenthread as gt
from eventlet.green import socket
import eventlet.queue as q
import time

eventlet.monkey_patch()
gt.sleep(1)
eventlet.spawn_n(f)
q.LightQueue()
time.sleep(0)
socket.socket()
with eventlet.Timeout(5):
    pass
"""
TEST = """\
from unittest import mock
import eventlet


@mock.patch('threading.Event')
def test_x(ev):
    mock.patch('eventlet.sleep')
    eventlet.tpool.execute(f)
"""


def build_tree(root):
    files = {
        "pkg/a.py": PROD,
        "pkg/tests/test_a.py": TEST,
        "pkg/plain.py": "import os\n# mentions EventLet in a comment\n",
        "pkg/bad.py": "def broken(:\n    eventlet.sleep(1)\n",
        "pkg/latin1.py": "# -*- coding: latin-1 -*-\nimport eventlet  # caf\xe9\n".encode("latin-1"),
        "pkg/mixed.txt": b"eventlet ok\neventlet caf\xe9\nEVENTLET after\n",
        "pkg/bin.dat": b"eventlet\x00eventlet\n",
        "pkg/late.bin": b"eventlet line\n" * 20000 + b"\x00eventlet\n",
        "releasenotes/notes/x.yaml": "eventlet removed\n",
        "doc/source/releasenotes/y.rst": "eventlet\n",
        ".git/config": "eventlet\n",
        "README": "No eventlet here\nbut Eventlet there\n",
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.symlink("..", root / "pkg" / "loop")  # a symlink loop
    os.symlink("a.py", root / "pkg" / "alias.py")  # grep -R follows file links too
    os.symlink("missing", root / "pkg" / "dangling")
    return root


@pytest.mark.parametrize("locale,utf8", [("C.UTF-8", True), ("C", False)])
def test_line_count_equals_real_grep(tmp_path, locale, utf8):
    root = build_tree(tmp_path)
    expected = real_grep(str(root), locale)
    result = scan(str(root), utf8=utf8)
    assert result.lines == expected
    # Pin the figure too, so a grep that changed behaviour is noticed.
    # 7 (a.py) + 7 (its symlink) + 3 + 1 + 1 + latin-1 line + mixed.txt + 14043 (late.bin) + 2
    assert expected == (14066 if utf8 else 14068)


def test_excludes_are_configurable(tmp_path):
    root = build_tree(tmp_path)
    assert scan(str(root), excludes=(), utf8=True).lines == real_grep(str(root), excludes=())
    assert scan(str(root), excludes=("releasenotes", "doc"), utf8=True).lines == \
        real_grep(str(root), excludes=("releasenotes", "doc"))


def test_files_importing_split_and_usages(tmp_path):
    result = scan(str(build_tree(tmp_path)), utf8=True)
    assert result.production == ["pkg/a.py", "pkg/alias.py", "pkg/latin1.py"]
    assert result.test == ["pkg/tests/test_a.py"]
    kinds = [(u.path, u.line, u.kind) for u in result.usages if u.path == "pkg/a.py"]
    assert kinds == [
        ("pkg/a.py", 7, "monkey_patch"), ("pkg/a.py", 8, "sleep"), ("pkg/a.py", 9, "spawn"),
        ("pkg/a.py", 10, "queue"), ("pkg/a.py", 11, "time_sleep_zero"),
        ("pkg/a.py", 12, "green_modules"), ("pkg/a.py", 13, "timeout"),
    ]
    test_kinds = [(u.line, u.kind, u.how) for u in result.usages if u.path == "pkg/tests/test_a.py"]
    assert test_kinds == [(5, "mock_threading_event", "code"), (7, "sleep", "string"),
                          (8, "tpool", "code")]
    bad = [(u.line, u.col, u.kind, u.how) for u in result.usages if u.path == "pkg/bad.py"]
    assert bad == [(2, 5, "sleep", "text")]
    assert any("pkg/bad.py" in w and "text matching" in w for w in result.warnings)
    assert any("recursive directory loop" in w for w in result.warnings)


def test_alias_resolution():
    src = b"from eventlet import greenthread as gt\nfrom eventlet.semaphore import Semaphore as S\n" \
          b"gt.sleep(0)\nS(1)\nx.sleep(1)\ndef sleep(): pass\n"
    found = [(f.line, f.col, f.rule.kind, f.name) for f in analyze(src).findings]
    assert found == [(3, 1, "sleep", "eventlet.greenthread.sleep"),
                     (4, 1, "semaphore", "eventlet.semaphore.Semaphore")]


def test_grep_buffer_model():
    # Lines wholly before the 96 KiB buffer holding the first NUL are printed.
    data = b"eventlet line\n" * 20000 + b"\x00eventlet\n"
    assert _grep.count_bytes(data, utf8=False) == (2 * _grep.BUFSIZE) // 14
    assert _grep.count_bytes(b"\x00eventlet", utf8=False) == 0
    assert _grep.count_bytes(b"\x00eventlet", utf8=False, legacy_binary=True) == 1
    assert _grep.count_bytes(b"EVENTLET\nx\neventlet", utf8=True) == 2
    assert _grep.count_bytes(b"eventlet \xff\neventlet\n", utf8=True) == 1
    assert _grep.count_bytes(b"eventlet \xff\neventlet\n", utf8=False) == 2


def test_json_csv_and_fail_over(tmp_path):
    root = build_tree(tmp_path)
    out = offramp("scan", str(root), "--json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert data["lines"] == real_grep(str(root))
    assert data["files_importing"]["test"] == ["pkg/tests/test_a.py"]
    assert {"path", "line", "col", "kind", "suggestion"} <= set(data["usages"][0])
    csv_out = offramp("scan", str(root), "--csv").stdout.splitlines()
    assert csv_out[0] == "path,line,col,kind,name,suggestion"
    assert len(csv_out) == len(data["usages"]) + 1
    lines = data["lines"]
    assert offramp("scan", str(root), "--fail-over", str(lines), "--json").returncode == 0
    failed = offramp("scan", str(root), "--fail-over", str(lines - 1), "--json")
    assert failed.returncode == 1 and f"{lines} eventlet lines exceed" in failed.stderr
    table = offramp("scan", str(root))
    assert table.returncode == 0 and "Usages by primitive" in table.stdout


def test_bad_input_is_named(tmp_path):
    out = offramp("scan", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no such file or directory" in out.stderr and "nope" in out.stderr
    out = offramp("scan", str(tmp_path), "--fail-over", "many")
    assert out.returncode == 2 and "'many'" in out.stderr and "non-negative integer" in out.stderr


def test_scan_never_imports_the_code(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(
        f"import eventlet\nopen({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n")
    result = scan(str(tmp_path), utf8=True)
    assert result.production == ["evil.py"] and not marker.exists()


def test_huge_file_is_streamed(tmp_path, monkeypatch):
    from offramp.migrate import scan as scan_module

    monkeypatch.setattr(scan_module, "STREAM_BYTES", 1000)
    (tmp_path / "big.py").write_bytes(b"import eventlet\n" + b"x = 1  # eventlet\n" * 500)
    result = scan(str(tmp_path), utf8=True)
    assert result.lines == 501 == real_grep(str(tmp_path))
    assert result.production == [] and "counted only" in result.warnings[0]


def test_cli_excludes_and_legacy_grep(tmp_path):
    root = build_tree(tmp_path)

    def lines(*args):
        out = offramp("scan", str(root), "--json", *args)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["lines"]

    base = lines()
    assert lines("--exclude-dir", "tests") == \
        real_grep(str(root), excludes=("releasenotes", "tests")) == base - 3
    assert lines("--no-default-excludes") == real_grep(str(root), excludes=()) == base + 2
    # grep < 3.5 printed one stdout line per matching binary file: bin.dat, late.bin.
    assert lines("--legacy-grep") == base + 2


SURVEY_IN_WORKERS = """
import os, sys
from offramp.migrate import _batch, _survey, lint, scan as scan_module
from offramp.migrate._cache import Cache

root, cache_dir = sys.argv[1], sys.argv[2]
forks, here = [], []
fork_pull = _survey.fork_pull
_survey.fork_pull = lambda *args: forks.append(1) or fork_pull(*args)
analyze_files = _batch.analyze_files
_batch.analyze_files = lambda sources, *args: here.append(len(sources)) or analyze_files(
    sources, *args)
scan_module.STREAM_BYTES = 3000  # one file is streamed, with its warning in place
alone = scan_module.scan(root, utf8=True, jobs=1).as_dict()
linted = lint.lint(root, jobs=1)
assert forks == [] and all(here), here
_survey.PARALLEL_FILES = 0
here.clear()
assert scan_module.scan(root, utf8=True, jobs=2).as_dict() == alone
assert lint.lint(root, jobs=2) == linted
assert len(forks) == 2, forks
assert here == [0, 0], here  # the workers analysed every file they kept
# A run that keeps no file opens no cache (it reads no engine source).
quiet = os.path.join(cache_dir + "-quiet-tree", "pkg")
os.makedirs(quiet)
for i in range(3):
    with open(os.path.join(quiet, f"m{i}.py"), "w") as fh:
        fh.write("x = 1\\n")
scan_module.scan(quiet, utf8=True, jobs=2, cache=Cache(cache_dir + "-quiet"))
assert not os.path.exists(cache_dir + "-quiet"), os.listdir(cache_dir + "-quiet")
# With a cache: the workers store what they analyse, and read it back.
cold = scan_module.scan(root, utf8=True, jobs=2, cache=Cache(cache_dir)).as_dict()
stored = sorted(os.listdir(Cache(cache_dir).base))
assert cold == alone and stored and os.listdir(os.path.join(cache_dir, stored[0]))
assert lint.lint(root, jobs=2, cache=Cache(cache_dir)) == linted  # reads z_big.py whole
warm = Cache(cache_dir)


def analysed_again(*args):
    raise AssertionError("a stored file was analysed again")


_batch._analyze_job = analysed_again
assert scan_module.scan(root, utf8=True, jobs=2, cache=warm).as_dict() == alone
assert lint.lint(root, jobs=2, cache=warm) == linted
assert here == [0] * 7, here
assert any("counted only" in w for w in alone["warnings"]), alone["warnings"]
print("ok")
"""


def test_files_read_in_worker_processes_give_the_same_scan_and_lint(tmp_path):
    root = build_tree(tmp_path)
    (root / "pkg" / "z_big.py").write_text("import eventlet\n" * 400)
    # In a process of its own: a test runner's threads rule out forking.
    out = subprocess.run([sys.executable, "-c", SURVEY_IN_WORKERS, str(root),
                          str(tmp_path / "cache")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


def test_the_cli_parses_one_subcommand_or_all(tmp_path):
    assert offramp("scan", str(tmp_path), "--json").returncode == 0
    typo = offramp("scna", str(tmp_path))
    assert typo.returncode == 2 and "'scan'" in typo.stderr and "'trend'" in typo.stderr
    listed = offramp("--help").stdout
    assert all(name in listed for name in ("lint", "rewrite", "scan", "services", "trend"))
