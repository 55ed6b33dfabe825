"""Each file's analysis is kept by content and reused; a stale, corrupt or
unwanted cache never changes what scan and lint report."""

import os
import shutil
import subprocess
import sys
import time

import pytest

import offramp.migrate as migrate_package
from offramp.migrate import _cache
from offramp.migrate._cache import Cache, blob_id, engine_fingerprint
from offramp.migrate._prefilter import Prefilter
from offramp.migrate._registry import needles, rule_for
from offramp.migrate.lint import lint
from offramp.migrate.scan import scan

from .conftest import offramp

FILES = {
    "pkg/a.py": "import eventlet\n\neventlet.sleep(1)\npool = eventlet.GreenPool()\n",
    "pkg/b.py": "from eventlet import greenthread\ngreenthread.spawn(f)\n",
    "pkg/tests/test_c.py": "import mock\n\n\n@mock.patch('eventlet.sleep')\ndef test(s):\n"
                           "    pass\n",
    "pkg/bad.py": "def broken(:\n    eventlet.sleep(1)\n",
    "pkg/plain.py": "import os\n",
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def entries(cache):
    return sorted(os.path.join(d, n) for d, _, names in os.walk(cache.base) for n in names)


def test_a_hit_gives_the_same_result(tree, tmp_path):
    cache = Cache(str(tmp_path / "c"))
    first = scan(str(tree), cache=cache, utf8=True)
    assert (cache.hits, cache.misses) == (0, 4)  # plain.py holds no needle: never analysed
    again = Cache(str(tmp_path / "c"))
    second = scan(str(tree), cache=again, utf8=True)
    assert (again.hits, again.misses) == (4, 0)
    assert second.as_dict() == first.as_dict() == scan(str(tree), utf8=True).as_dict()
    assert lint(str(tree), cache=again) == lint(str(tree))
    # Rules come back as the registry's own objects, not copies.
    hit = again.get(blob_id((tree / "pkg/a.py").read_bytes()))
    assert hit.findings and all(f.rule is rule_for(f.name) for f in hit.findings)


def test_keys_are_git_blob_ids(tree):
    data = (tree / "pkg/a.py").read_bytes()
    out = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True,
                         check=True).stdout.decode().strip()
    assert blob_id(data) == out


def test_a_changed_file_is_analysed_again(tree, tmp_path):
    scan(str(tree), cache=Cache(str(tmp_path / "c")), utf8=True)
    (tree / "pkg/a.py").write_text("import eventlet\n\neventlet.spawn_n(f)\n")
    cache = Cache(str(tmp_path / "c"))
    result = scan(str(tree), cache=cache, utf8=True)
    assert (cache.hits, cache.misses) == (3, 1)
    assert [(u.line, u.kind) for u in result.usages if u.path == "pkg/a.py"] == [(3, "spawn")]


def test_another_engine_does_not_read_these_entries(tree, tmp_path):
    scan(str(tree), cache=Cache(str(tmp_path / "c"), "engine-one"), utf8=True)
    other = Cache(str(tmp_path / "c"), "engine-two")
    scan(str(tree), cache=other, utf8=True)
    assert (other.hits, other.misses) == (0, 4)


def test_the_fingerprint_follows_the_package_source(tmp_path, monkeypatch):
    package = os.path.dirname(migrate_package.__file__)
    copy = tmp_path / "migrate"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate_package, "__file__", str(copy / "__init__.py"))
    before = engine_fingerprint()
    assert before == engine_fingerprint()
    with open(copy / "_rules" / "sleep.py", "a") as fh:
        fh.write("# a changed rule\n")
    assert engine_fingerprint() != before


def test_a_corrupt_entry_is_analysed_again_and_rewritten(tree, tmp_path):
    expected = scan(str(tree), cache=Cache(str(tmp_path / "c")), utf8=True).as_dict()
    cache = Cache(str(tmp_path / "c"))
    stored = entries(cache)
    assert len(stored) == 4
    for i, path in enumerate(stored):  # truncated, garbage, empty, a foreign pickle
        with open(path, "r+b") as fh:
            data = fh.read()
            fh.seek(0)
            fh.truncate()
            fh.write([data[:len(data) // 2], b"\x00garbage", b"", b"\x80\x04K\x01."][i])
    assert scan(str(tree), cache=cache, utf8=True).as_dict() == expected
    assert (cache.hits, cache.misses) == (0, 4)
    healed = Cache(str(tmp_path / "c"))
    assert scan(str(tree), cache=healed, utf8=True).as_dict() == expected
    assert (healed.hits, healed.misses) == (4, 0)


def test_entries_are_written_whole_or_not_at_all(tree, tmp_path, monkeypatch):
    cache = Cache(str(tmp_path / "c"))
    scan(str(tree), cache=cache, utf8=True)
    assert not [p for p in entries(cache) if os.path.basename(p).startswith(".tmp-")]

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cache.os, "replace", fail)
    (tree / "pkg/a.py").write_text("import eventlet\neventlet.sleep(2)\n")
    full = Cache(str(tmp_path / "c"))
    assert scan(str(tree), cache=full, utf8=True).usages  # a cache it cannot write is no error
    assert len(entries(full)) == 4  # no temporary file left behind, no new entry


def test_an_unwritable_cache_directory_is_skipped(tree, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = scan(str(tree), cache=Cache(str(blocker / "c")), utf8=True)
    assert result.as_dict() == scan(str(tree), utf8=True).as_dict()


def test_directories_of_engines_unused_for_long_are_removed(tree, tmp_path):
    base = tmp_path / "c"
    old, recent = base / "analyses-old", base / "analyses-recent"
    for d in (old, recent):
        (d / "ab").mkdir(parents=True)
    long_ago = time.time() - (_cache.STALE_DAYS + 1) * 86400
    os.utime(old, (long_ago, long_ago))
    scan(str(tree), cache=Cache(str(base)), utf8=True)
    assert not old.exists() and recent.exists()


def test_no_cache_flag_and_environment(tree, analysis_cache_dir, monkeypatch):
    assert offramp("scan", str(tree), "--no-cache", "--json").returncode == 0
    assert offramp("lint", str(tree), "--no-cache").returncode == 1
    assert os.listdir(analysis_cache_dir) == []
    monkeypatch.setenv("OFFRAMP_NO_CACHE", "1")
    offramp("scan", str(tree), "--json")
    assert os.listdir(analysis_cache_dir) == []
    monkeypatch.delenv("OFFRAMP_NO_CACHE")
    first = offramp("scan", str(tree), "--json").stdout
    assert os.listdir(analysis_cache_dir) != []
    assert offramp("scan", str(tree), "--json").stdout == first
    assert offramp("scan", str(tree), "--json", "--no-cache").stdout == first


WORKERS = """
import os, sys
from offramp.migrate import _batch
from offramp.migrate._analyze import analyze
from offramp.migrate._cache import Cache
from offramp.migrate._registry import rule_for

tree, cache_dir, fail_in_child = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
names = sorted(os.path.join(d, n) for d, _, ns in os.walk(tree) for n in ns)
sources = [(open(p, "rb").read(), "") for p in names] * 3
alone = [analyze(data) for data, _ in sources]
_batch.PARALLEL_BYTES = 0
batches, parent, job = [], os.getpid(), _batch._analyze_job
in_workers = _batch._in_workers
_batch._in_workers = (lambda items, n, *rest: batches.append((len(items), n))
                      or in_workers(items, n, *rest))
if fail_in_child:
    def failing(data, module):
        if os.getpid() != parent:
            raise RuntimeError("a child that fails")
        return job(data, module)
    _batch._analyze_job = failing
cache = Cache(cache_dir)
pooled = _batch.analyze_files(sources, cache, jobs=2)
assert batches == [(5, 2)], batches  # each content once; the prefilter is scan's, not here
assert pooled == alone
# A rule comes back as the registry's own (one refined for its use, with
# texts of its own, is a copy).
own = [f.rule is rule_for(f.name) for a in pooled for f in a.findings if f.how == "code"
       and (f.rule.suggestion, f.rule.message) == (rule_for(f.name).suggestion,
                                                   rule_for(f.name).message)]
assert own and all(own)
# The workers stored their entries: the second run analyses nothing.
assert _batch.analyze_files(sources, cache, jobs=2) == alone and batches == [(5, 2)]
print("ok")
"""


@pytest.mark.parametrize("fail_in_child", [False, True])
def test_worker_processes_give_the_in_process_results_in_order(tree, tmp_path, fail_in_child):
    # In a process of its own: a test runner's threads rule out forking.
    out = subprocess.run([sys.executable, "-c", WORKERS, str(tree), str(tmp_path / "c"),
                          str(int(fail_in_child))], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


PULLED = """
import os
from offramp.migrate._forked import fork_pull

# Item 0 blocks until item 3 is done. Dealt in advance (0, 2 | 1, 3) this
# would never end; pulled, one process holds 0 while the other does 1-3.
wake_read, wake_write = os.pipe()

def work(item):
    if item == 0:
        assert os.read(wake_read, 1) == b"x"
    if item == 3:
        os.write(wake_write, b"x")
    return item * 10, os.getpid()

done = fork_pull(work, list(range(4)), [0, 1, 2, 3], 2)
assert [value for value, _ in done] == [0, 10, 20, 30], done
assert len({pid for _, pid in done}) == 2 and done[1][1] == done[2][1] == done[3][1], done
# More indices than a pipe holds: dealt in advance, same results.
many = list(range(40000))
assert fork_pull(lambda i: i + 1, many, many[::-1], 2) == [i + 1 for i in many]
print("ok")
"""


def test_analysis_workers_pull_the_next_item_when_free():
    out = subprocess.run([sys.executable, "-c", PULLED], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


COLLECTOR = """
import gc
from offramp.migrate._forked import fork_map, fork_pull

assert gc.isenabled()
assert fork_map(lambda _: gc.isenabled(), range(4), [[0, 2], [1, 3]]) == [False] * 4
assert fork_pull(lambda _: gc.isenabled(), range(4), [3, 2, 1, 0], 2) == [False] * 4
assert gc.isenabled()
print("ok")
"""


def test_workers_run_without_the_cycle_collector_and_give_it_back():
    out = subprocess.run([sys.executable, "-c", COLLECTOR], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


@pytest.mark.parametrize("data", [
    b"", b"import os\n", b"eventlet", b"x = greenlet.getcurrent()", b"time.sleep( 0)",
    b"mock.patch('threading.Event.wait')", b"Event", b"'Event'", b'"Event"', b"EVENTLET",
    b"'EVENT'", b"threading.event", b"GreenLet", b"Eventlet",
])
def test_the_prefilter_wants_what_any_needle_wants(data):
    assert Prefilter(needles()).wants(data) == any(n in data for n in needles())


def test_prefilter_groups_cover_every_needle():
    made = Prefilter([b"ab", b"abcdefg", b"xabcdey", b"sleep(0", b"sleep( 0"])
    assert sorted(n for _, members in made.groups for _, written in members for n in written) \
        == sorted([b"ab", b"abcdefg", b"xabcdey", b"sleep(0", b"sleep( 0"])
    assert all(gate in low for gate, members in made.groups for low, _ in members)
    assert made.wants(b"...sleep( 0)") and not made.wants(b"sleep(1)")


def test_trend_counts_round_trip_and_a_corrupt_table_is_empty(tmp_path):
    cache = Cache(str(tmp_path / "c"), "engine")
    assert cache.load_counts("utf8=1-legacy=0") == {}
    cache.save_counts("utf8=1-legacy=0", {("abc", True): (3, True)})
    assert Cache(str(tmp_path / "c"), "engine").load_counts("utf8=1-legacy=0") == \
        {("abc", True): (3, True)}
    (tmp_path / "c" / "analyses-engine" / "counts-utf8=1-legacy=0").write_bytes(b"\x80garbage")
    assert Cache(str(tmp_path / "c"), "engine").load_counts("utf8=1-legacy=0") == {}


REFINED = ("import eventlet\n\n\ndef f():\n    try:\n        g()\n"
           "    except eventlet.timeout.Timeout:\n        pass\n"
           "    gt = eventlet.spawn(g)\n    gt.wait()\n")


def test_texts_refined_for_one_use_survive_the_cache(tmp_path):
    # An except clause has its own message, a waited-for spawn its own
    # suggestion; a hit must not bring back the rule's general texts.
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "m.py").write_text(REFINED)
    fresh = scan(str(tmp_path / "t"), utf8=True)
    refined = [u for u in fresh.usages if u.kind in ("timeout", "spawn")]
    assert any("catch" in u.suggestion for u in refined)
    assert any(".result()" in u.suggestion for u in refined)
    for _ in range(2):  # the miss that writes the entry, then the hit
        cache = Cache(str(tmp_path / "c"))
        assert scan(str(tmp_path / "t"), cache=cache, utf8=True).as_dict() == fresh.as_dict()
        assert lint(str(tmp_path / "t"), cache=cache) == lint(str(tmp_path / "t"))
    assert cache.hits == 2  # scan and lint, both from the entry
    message = next(f.message for f in lint(str(tmp_path / "t")) if f.code == "OFR107")
    assert message.startswith("except ")
