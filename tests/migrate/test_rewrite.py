"""``offramp rewrite``: before/after per rule, idempotence, file safety."""

import os
import stat

import pytest

from offramp.migrate.rewrite import rewrite_source, rewrite_tree

from .conftest import offramp

PAIRS = {
    "sleep": (
        "import eventlet\n\n\ndef f():\n    eventlet.sleep(1)  # wait a bit\n",
        "import time\n\n\ndef f():\n    time.sleep(1)  # wait a bit\n",
    ),
    "sleep_zero_is_a_yield": (
        "import eventlet\nfrom eventlet import greenthread\n\ngreenthread.sleep()\neventlet.sleep(0)\n",
        "import offramp\n\nofframp.cooperative_yield()\nofframp.cooperative_yield()\n",
    ),
    "greenthread_sleep_through_alias": (
        "from eventlet import greenthread as gt\n\ngt.sleep(0.5)\n",
        "import time\n\ntime.sleep(0.5)\n",
    ),
    "from_import_sleep": (
        "from eventlet import sleep, spawn_n\n\nsleep(2)\nspawn_n(f)\n",
        "from eventlet import spawn_n\nimport time\n\ntime.sleep(2)\nspawn_n(f)\n",
    ),
    "semaphore": (
        "from eventlet import semaphore\n\nlock = semaphore.Semaphore()\n"
        "bounded = semaphore.BoundedSemaphore(3)\n",
        "import threading\n\nlock = threading.Semaphore()\nbounded = threading.BoundedSemaphore(3)\n",
    ),
    "queue": (
        "import eventlet.queue\n\nq = eventlet.queue.LightQueue()\nr = eventlet.queue.Queue(maxsize=2)\n",
        "import queue\n\nq = queue.SimpleQueue()\nr = queue.Queue(maxsize=2)\n",
    ),
    "queue_module_name_reused": (
        "from eventlet import queue\n\nq = queue.Queue()\n",
        "import queue\n\nq = queue.Queue()\n",
    ),
    "spawn": (
        "import eventlet\nfrom eventlet import greenthread\n\nt = eventlet.spawn(work, 1)\n"
        "greenthread.spawn(work, 2)\neventlet.spawn_n(work, 3)\n",
        "import eventlet\nimport offramp\n\nt = offramp.spawn(work, 1)\n"
        "offramp.spawn(work, 2)\neventlet.spawn_n(work, 3)\n",
    ),
    # offramp executors are shared and sized by configuration: waitall()
    # waits for the futures this code submitted, not for the pool.
    "greenpool": (
        "import eventlet\n\n\ndef fan_out(items):\n    pool = eventlet.GreenPool(size=8)\n"
        "    for item in items:\n        pool.spawn_n(handle, item)\n    pool.waitall()\n",
        "import futurist.waiters\nimport offramp\n\n\ndef fan_out(items):\n"
        "    pool = offramp.get_executor()\n    pool_futures = []\n"
        "    for item in items:\n        pool_futures.append(pool.submit(handle, item))\n"
        "    futurist.waiters.wait_for_all(pool_futures)\n",
    ),
    "greenpool_fire_and_forget": (
        "from eventlet import greenpool\n\npool = greenpool.GreenPool()\npool.spawn(log, 1)\n",
        "import offramp\n\npool = offramp.get_executor()\npool.submit(log, 1)\n",
    ),
    "time_sleep_zero": (
        "import time\n\ntime.sleep(0)\ntime.sleep(0.1)\n",
        "import time\nimport offramp\n\nofframp.cooperative_yield()\ntime.sleep(0.1)\n",
    ),
    "event": (
        "from eventlet import event\n\n\nclass Worker:\n    def __init__(self):\n"
        "        self._done = event.Event()\n\n    def stop(self):\n        self._done.send()\n\n"
        "    def join(self):\n        self._done.wait()\n        return self._done.ready()\n",
        "import threading\n\n\nclass Worker:\n    def __init__(self):\n"
        "        self._done = threading.Event()\n\n    def stop(self):\n        self._done.set()\n\n"
        "    def join(self):\n        self._done.wait()\n        return self._done.is_set()\n",
    ),
}

UNCHANGED = {
    # send(value)/wait() carry a value: threading.Event cannot.
    "event_with_value": ("from eventlet import event\n\ndone = event.Event()\ndone.send(42)\n"
                         "result = done.wait()\n", "event 'done' not rewritten"),
    "event_passed_around": ("import eventlet\n\nev = eventlet.Event()\nhandler(ev)\n",
                            "ev is used other than by calling a method"),
    "event_unbound": ("import eventlet\n\nevents = [eventlet.Event() for _ in range(3)]\n",
                      "not assigned to a plain name"),
    # The pool is used after waitall(): shutdown() would break it.
    "greenpool_reused": ("import eventlet\n\npool = eventlet.GreenPool()\npool.spawn(f)\n"
                         "pool.waitall()\npool.spawn(g)\n", "not the last use"),
    "greenpool_waitall_on_attribute": ("import eventlet\n\nself.pool = eventlet.GreenPool()\n"
                                       "self.pool.spawn(f)\nself.pool.waitall()\n",
                                       "cannot be tracked"),
    "greenpool_futures_name_taken": ("import eventlet\n\npool_futures = 1\npool = eventlet.GreenPool()\n"
                                     "pool.spawn(f)\npool.waitall()\n", "pool_futures is already used"),
    "greenpool_result_used": ("import eventlet\n\npool = eventlet.GreenPool()\n"
                              "gt = pool.spawn(f)\n", "the result of pool.spawn() is used"),
    # `time` is the green module here: time.sleep would be shadowed.
    "name_clash": ("from eventlet.green import time\nimport eventlet\n\neventlet.sleep(1)\n"
                   "time.time()\n", "time is already bound"),
    "keyword_and_attribute_names": ("from eventlet import sleep\n\nf(sleep=1)\nobj.sleep(2)\n", None),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_before_after(name):
    before, after = PAIRS[name]
    result = rewrite_source(before.encode())
    assert result.new.decode() == after
    assert rewrite_source(result.new).new == result.new  # idempotent


def test_spawn_with_used_result_is_rewritten_with_a_note():
    result = rewrite_source(b"import eventlet\n\nt = eventlet.spawn(f)\nt.link(g)\neventlet.spawn(h)\n")
    assert result.new == b"import offramp\n\nt = offramp.spawn(f)\nt.link(g)\nofframp.spawn(h)\n"
    assert result.reports == ["line 3: rewritten, eventlet.spawn -> offramp.spawn: check the uses "
                              "of its result: GreenThread.link()/kill() may not exist there"]


def test_greenpool_size_note():
    result = rewrite_source(PAIRS["greenpool"][0].encode())
    assert result.reports == ["line 5: rewritten, greenpool 'pool': the pool size is not carried "
                              "over: offramp pools are sized by configuration "
                              "([offramp] <mode>_pool_sizes)"]


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_unsafe_patterns_are_reported_not_rewritten(name):
    source, report = UNCHANGED[name]
    result = rewrite_source(source.encode())
    assert result.new.decode() == source
    if report:
        assert any(report in r for r in result.reports), result.reports


def test_comments_and_formatting_survive():
    source = ("# top comment\nimport os\nimport eventlet  # needed for monkey_patch\n\n"
              "eventlet.monkey_patch()\nx = eventlet.sleep( 3 )   # odd spacing\n")
    out = rewrite_source(source.encode()).new.decode()
    assert out == ("# top comment\nimport os\nimport eventlet  # needed for monkey_patch\nimport time\n\n"
                   "eventlet.monkey_patch()\nx = time.sleep( 3 )   # odd spacing\n")


def test_non_utf8_source_keeps_its_encoding():
    source = "# -*- coding: latin-1 -*-\nimport eventlet\neventlet.sleep(1)  # caf\xe9\n".encode("latin-1")
    out = rewrite_source(source).new
    assert out == "# -*- coding: latin-1 -*-\nimport time\n\ntime.sleep(1)  # caf\xe9\n".encode("latin-1")


def make_tree(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.py").write_text(PAIRS["sleep"][0])
    os.chmod(root / "a.py", 0o754)
    (root / "bad.py").write_text("import eventlet\ndef (:\n    eventlet.sleep(1)\n")
    (root / "clean.py").write_text("import threading\n")
    (tmp_path / "outside.py").write_text(PAIRS["sleep"][0])
    os.symlink(tmp_path / "outside.py", root / "link.py")
    os.symlink(".", root / "loop")
    return root


def snapshot(root):
    return {p: open(os.path.join(root, p), "rb").read()
            for p in ("a.py", "bad.py", "clean.py", "../outside.py")}


def test_dry_run_writes_nothing_and_prints_a_diff(tmp_path):
    root = make_tree(tmp_path)
    before = snapshot(root)
    out = offramp("rewrite", str(root))
    assert snapshot(root) == before
    assert "-    eventlet.sleep(1)  # wait a bit\n+    time.sleep(1)  # wait a bit\n" in out.stdout
    assert "bad.py: cannot parse" in out.stderr and "left untouched" in out.stderr
    assert "outside" in out.stderr and "refused" in out.stderr
    assert out.returncode == 1  # an unparseable file and a refusal are errors


def test_write_is_atomic_keeps_mode_and_stays_inside(tmp_path):
    root = make_tree(tmp_path)
    before = snapshot(root)
    results, refused = rewrite_tree(str(root), write=True)
    after = snapshot(root)
    assert after["a.py"].decode() == PAIRS["sleep"][1]
    assert stat.S_IMODE(os.stat(root / "a.py").st_mode) == 0o754
    assert after["bad.py"] == before["bad.py"]  # unparseable: untouched
    assert after["../outside.py"] == before["../outside.py"]  # symlink target outside PATH
    assert len(refused) == 1 and "link.py" in refused[0]
    assert not [p for p in os.listdir(root) if p.startswith(".offramp-")]  # no temp left
    assert sorted(os.path.basename(r.path) for r in results) == ["a.py", "bad.py", "clean.py"]
    # A second run changes nothing.
    again, _ = rewrite_tree(str(root), write=True)
    assert not any(r.result.changed for r in again)


def test_missing_path(tmp_path):
    out = offramp("rewrite", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "nowhere" in out.stderr


@pytest.mark.parametrize("data", [
    b"import eventlet\x00\neventlet.sleep(1)\n",  # binary
    b"import eventlet\neventlet.sleep(1)  # caf\xe9\n",  # not UTF-8, no coding cookie
    b"print 'python 2'\nimport eventlet\neventlet.sleep(1)\n",  # syntax error
])
def test_undecodable_or_unparseable_files_are_left_untouched(tmp_path, data):
    path = tmp_path / "mod.py"
    path.write_bytes(data)
    results, _ = rewrite_tree(str(tmp_path), write=True)
    assert path.read_bytes() == data
    assert results[0].result.error.startswith("cannot parse")


def test_single_file_path(tmp_path):
    path = tmp_path / "one.py"
    path.write_text(PAIRS["queue"][0])
    out = offramp("rewrite", str(path), "--write")
    assert out.returncode == 0 and "rewrote 1 of 1 files" in out.stderr
    assert path.read_text() == PAIRS["queue"][1]
