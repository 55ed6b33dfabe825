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
    # A yield, and inside a function: offramp.* never runs at import time.
    "sleep_zero_is_a_yield": (
        "import eventlet\nfrom eventlet import greenthread\n\n\ndef f():\n    greenthread.sleep()\n"
        "    eventlet.sleep(0)\n",
        "import offramp\n\n\ndef f():\n    offramp.cooperative_yield()\n"
        "    offramp.cooperative_yield()\n",
    ),
    "greenthread_sleep_through_alias": (
        "from eventlet import greenthread as gt\n\ngt.sleep(0.5)\n",
        "import time\n\ntime.sleep(0.5)\n",
    ),
    # Stdlib first, then third party: the new import goes in its group.
    "from_import_sleep": (
        "from eventlet import sleep, spawn_n\n\nsleep(2)\nspawn_n(f)\n",
        "import time\n\nfrom eventlet import spawn_n\n\ntime.sleep(2)\nspawn_n(f)\n",
    ),
    "import_placed_in_order": (
        "import os\nimport sys\n\nimport eventlet\nimport netaddr\n\n\ndef f():\n"
        "    eventlet.sleep(1)\n    return os, sys, netaddr\n",
        "import os\nimport sys\nimport time\n\nimport netaddr\n\n\ndef f():\n"
        "    time.sleep(1)\n    return os, sys, netaddr\n",
    ),
    "semaphore": (
        "from eventlet import semaphore\n\nlock = semaphore.Semaphore()\n"
        "bounded = semaphore.BoundedSemaphore(3)\n",
        "import threading\n\nlock = threading.Semaphore()\nbounded = threading.BoundedSemaphore(3)\n",
    ),
    # LightQueue() -> SimpleQueue(); a size is kept only when it is > 0.
    "queue": (
        "import eventlet.queue\n\nq = eventlet.queue.LightQueue()\nr = eventlet.queue.Queue(maxsize=2)\n"
        "s = eventlet.queue.LightQueue(10)\nt = eventlet.queue.Queue(None)\n",
        "import queue\n\nq = queue.SimpleQueue()\nr = queue.Queue(maxsize=2)\ns = queue.Queue(10)\n"
        "t = queue.Queue()\n",
    ),
    "queue_module_name_reused": (
        "from eventlet import queue\n\nq = queue.Queue()\n",
        "import queue\n\nq = queue.Queue()\n",
    ),
    # GreenThread.wait() is Future.result(): same value, same exception.
    "spawn_waited": (
        "import eventlet\nfrom eventlet import greenthread\n\n\ndef f():\n"
        "    t = eventlet.spawn(work, 1)\n    greenthread.spawn(work, 2).wait()\n    return t.wait()\n",
        "import offramp\n\n\ndef f():\n    t = offramp.spawn(work, 1)\n"
        "    offramp.spawn(work, 2).result()\n    return t.result()\n",
    ),
    # Arguments aligned with the bracket stay aligned (pycodestyle E128).
    "aligned_arguments": (
        "import eventlet\n\n\ndef f():\n    t = eventlet.greenthread.spawn(work,\n"
        "                                   1)\n    return t.wait(\n        timeout)\n",
        "import offramp\n\n\ndef f():\n    t = offramp.spawn(work,\n"
        "                      1)\n    return t.result(\n        timeout)\n",
    ),
    "greenpool_spawn_waited": (
        "import eventlet\n\n\ndef f():\n    pool = eventlet.GreenPool()\n"
        "    return pool.spawn(work, 1).wait()\n",
        "import offramp\n\n\ndef f():\n    pool = offramp.get_executor()\n"
        "    return pool.submit(work, 1).result()\n",
    ),
    # The only use of `time` goes: no unused import is left (F401).
    "time_sleep_zero": (
        "import time\n\nimport eventlet\n\n\ndef f():\n    time.sleep(0)\n    eventlet.sleep(0.1)\n",
        "import time\n\nimport offramp\n\n\ndef f():\n    offramp.cooperative_yield()\n"
        "    time.sleep(0.1)\n",
    ),
    "time_import_dropped": (
        "import time\n\n\ndef f():\n    time.sleep(0)\n",
        "import offramp\n\n\ndef f():\n    offramp.cooperative_yield()\n",
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
                         "result = done.wait()\n", "send(value) delivers a value"),
    "event_passed_around": ("import eventlet\n\nev = eventlet.Event()\nhandler(ev)\n",
                            "it escapes (argument)"),
    "event_unbound": ("import eventlet\n\nevents = [eventlet.Event() for _ in range(3)]\n",
                      "it escapes (stored in a container)"),
    "greenpool_sized": ("import eventlet\n\n\ndef f():\n    pool = eventlet.GreenPool(8)\n"
                        "    pool.spawn(f).wait()\n", "the pool size would be lost"),
    "greenpool_spawn_n": ("import eventlet\n\npool = eventlet.GreenPool()\npool.spawn_n(f)\n",
                          "spawn_n on a pool"),
    "greenpool_waitall": ("import eventlet\n\n\ndef f():\n    pool = eventlet.GreenPool()\n"
                          "    pool.spawn(f).wait()\n    pool.waitall()\n", "waitall() waits"),
    "greenpool_imap": ("import eventlet\n\npool = eventlet.GreenPool()\nlist(pool.imap(f, xs))\n",
                       "imap() is lazy"),
    "spawn_unread": ("import eventlet\n\n\ndef f():\n    eventlet.spawn(work)\n",
                     "its result is never waited for"),
    "spawn_killed": ("import eventlet\n\n\ndef f():\n    t = eventlet.spawn(work)\n    t.kill()\n"
                     "    t.wait()\n", ".kill() has no equivalent"),
    "spawn_linked": ("import eventlet\n\n\ndef f():\n    t = eventlet.spawn(work)\n    t.link(done)\n"
                     "    t.wait()\n", ".link() has no equivalent"),
    "spawn_n": ("import eventlet\n\n\ndef f():\n    eventlet.spawn_n(work)\n",
                "spawn_n returns None"),
    "light_queue_sized_zero": ("import eventlet.queue\n\nq = eventlet.queue.Queue(0)\n",
                               "Queue(0) is a channel"),
    "queue_size_not_literal": ("import eventlet.queue\n\nq = eventlet.queue.LightQueue(n)\n",
                               "the size is not a literal"),
    "semaphore_balance": ("import eventlet\n\nsem = eventlet.Semaphore(2)\nprint(sem.balance)\n",
                          ".balance has no threading.Semaphore equivalent"),
    "sleep_zero_at_import_time": ("import eventlet\n\neventlet.sleep(0)\n",
                                  "would run when the module is imported"),
    "sleep_zero_in_default_argument": (
        "import eventlet\n\n\ndef f(x=eventlet.sleep(0)):\n    pass\n",
        "would run when the module is imported"),
    "sleep_zero_in_decorator": (
        "import eventlet\nfrom unittest import mock\n\n\n"
        "@mock.patch('x.y', side_effect=eventlet.sleep(0))\ndef test(m):\n    pass\n",
        "would run when the module is imported"),
    # `time` is the green module here: time.sleep would be shadowed.
    "name_clash": ("from eventlet.green import time\nimport eventlet\n\neventlet.sleep(1)\n"
                   "time.time()\n", "time is already bound"),
    "local_name_clash": ("import eventlet\n\n\ndef f(queue):\n    q = eventlet.queue.Queue()\n"
                         "    q.put(queue)\n", "queue is a local name"),
    "keyword_and_attribute_names": ("from eventlet import sleep\n\nf(sleep=1)\nobj.sleep(2)\n", None),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_before_after(name):
    before, after = PAIRS[name]
    result = rewrite_source(before.encode())
    assert result.new.decode() == after
    assert rewrite_source(result.new).new == result.new  # idempotent


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_unsafe_patterns_are_reported_not_rewritten(name):
    source, report = UNCHANGED[name]
    result = rewrite_source(source.encode())
    assert result.new.decode() == source
    if report:
        assert any(report in r for r in result.reports), result.reports


def test_alias_is_left_but_its_source_name_is_renamed():
    # `sl = eventlet.sleep` is a value: time.sleep is the same function under
    # threads, and the alias follows it; the call through the alias is left.
    source = b"import eventlet\n\n\ndef f():\n    sl = eventlet.sleep\n    sl(0)\n"
    assert rewrite_source(source).new == b"import time\n\n\ndef f():\n    sl = time.sleep\n    sl(0)\n"


def test_comments_and_formatting_survive():
    source = ("# top comment\nimport os\n\nimport eventlet  # needed for monkey_patch\n\n"
              "eventlet.monkey_patch()\nx = eventlet.sleep( 3 )   # odd spacing\n"
              "y = eventlet.sleep(\n    4,  # a comment inside\n)\n")
    out = rewrite_source(source.encode()).new.decode()
    assert out == ("# top comment\nimport os\nimport time\n\nimport eventlet  # needed for monkey_patch\n\n"
                   "eventlet.monkey_patch()\nx = time.sleep( 3 )   # odd spacing\n"
                   "y = time.sleep(\n    4,  # a comment inside\n)\n")


def test_non_utf8_source_keeps_its_encoding():
    source = ("# -*- coding: latin-1 -*-\nimport eventlet\nx = '\xe9'; eventlet.sleep(1)  # caf\xe9\n"
              ).encode("latin-1")
    out = rewrite_source(source).new
    assert out == "# -*- coding: latin-1 -*-\nimport time\nx = '\xe9'; time.sleep(1)  # caf\xe9\n".encode(
        "latin-1")


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
    run = rewrite_tree(str(root), write=True)
    results, refused = run.results, run.refused
    after = snapshot(root)
    assert after["a.py"].decode() == PAIRS["sleep"][1]
    assert stat.S_IMODE(os.stat(root / "a.py").st_mode) == 0o754
    assert after["bad.py"] == before["bad.py"]  # unparseable: untouched
    assert after["../outside.py"] == before["../outside.py"]  # symlink target outside PATH
    assert len(refused) == 1 and "link.py" in refused[0]
    assert not [p for p in os.listdir(root) if p.startswith(".offramp-")]  # no temp left
    # Only files that can hold a usage are analysed.
    assert sorted(os.path.basename(r.path) for r in results) == ["a.py", "bad.py"]
    # A second run changes nothing.
    again = rewrite_tree(str(root), write=True)
    assert not any(r.result.changed for r in again.results)


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
    results = rewrite_tree(str(tmp_path), write=True).results
    assert path.read_bytes() == data
    assert results[0].result.error.startswith("cannot parse")


def test_single_file_path(tmp_path):
    path = tmp_path / "one.py"
    path.write_text(PAIRS["queue"][0])
    out = offramp("rewrite", str(path), "--write")
    assert out.returncode == 0 and "rewrote 1 of 1 files" in out.stderr
    assert path.read_text() == PAIRS["queue"][1]
