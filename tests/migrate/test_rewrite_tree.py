"""``offramp rewrite`` on small multi-file trees: one per hazard.

Each tree holds an eventlet object and a use of it in another file; the
rewrite must either make the whole object safe or leave it alone, saying
why and naming the file:line of the use that blocks it.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from offramp.migrate.rewrite import rewrite_tree

from .conftest import offramp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make(tmp_path, files: dict) -> str:
    root = tmp_path / "proj"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for pkg in {os.path.dirname(rel) for rel in files if "/" in rel}:
        init = root / pkg / "__init__.py"
        if not init.exists():
            init.write_text("")
    return str(root)


def read(root, rel) -> str:
    with open(os.path.join(root, rel)) as fh:
        return fh.read()


def refused(root, *args):
    """Dry run through the CLI: (stderr, files it would change)."""
    out = offramp("rewrite", root, *args)
    assert out.returncode == 0, out.stderr
    changed = sorted({line[6:] for line in out.stdout.splitlines() if line.startswith("+++ b/")})
    return out.stderr, changed


def test_spawn_result_killed_in_another_file_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/worker.py": """\
            import eventlet


            class Worker:
                def start(self):
                    self.thread = eventlet.spawn(self.run)
                    self.thread.wait()
            """,
        "pkg/manager.py": """\
            def stop(worker):
                worker.thread.kill()
            """,
    })
    err, changed = refused(root)
    assert changed == []
    assert "pkg/worker.py: line 6: left alone: eventlet.spawn(): .kill() has no equivalent" in err
    assert "pkg/manager.py:2)" in err


def test_spawn_result_waited_everywhere_becomes_a_future(tmp_path):
    root = make(tmp_path, {
        "pkg/worker.py": """\
            import eventlet


            class Worker:
                def start(self):
                    self.thread = eventlet.spawn(self.run)
            """,
        "pkg/manager.py": """\
            def join(worker):
                return worker.thread.wait()
            """,
    })
    rewrite_tree(root, write=True)
    assert "self.thread = offramp.spawn(self.run)" in read(root, "pkg/worker.py")
    assert read(root, "pkg/manager.py") == "def join(worker):\n    return worker.thread.result()\n"


def test_semaphore_balance_read_elsewhere_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/manager.py": """\
            import eventlet


            class Manager:
                def __init__(self):
                    self._build_semaphore = eventlet.semaphore.Semaphore(3)

                def build(self):
                    with self._build_semaphore:
                        pass
            """,
        "pkg/tests/test_manager.py": """\
            from pkg import manager


            def test_balance():
                assert manager.Manager()._build_semaphore.balance == 3
            """,
    })
    err, changed = refused(root)
    assert changed == []
    assert ".balance has no threading.Semaphore equivalent (" in err
    assert "pkg/tests/test_manager.py:5)" in err


def test_semaphore_used_only_as_a_lock_is_rewritten(tmp_path):
    root = make(tmp_path, {
        "pkg/manager.py": """\
            import eventlet


            class Manager:
                def __init__(self):
                    self._lock = eventlet.semaphore.Semaphore(3)

                def build(self):
                    with self._lock:
                        pass
            """,
        "pkg/other.py": """\
            def grab(m):
                m._lock.acquire()
                m._lock.release()
            """,
    })
    rewrite_tree(root, write=True)
    assert "self._lock = threading.Semaphore(3)" in read(root, "pkg/manager.py")
    assert read(root, "pkg/manager.py").startswith("import threading\n")


def test_module_global_pool_used_by_another_module_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/utils.py": """\
            import eventlet

            POOL = None


            def init():
                global POOL
                POOL = eventlet.GreenPool()
            """,
        "pkg/compute.py": """\
            from pkg import utils


            def build(f):
                utils.POOL.spawn_n(f)
            """,
    })
    err, changed = refused(root)
    assert changed == []
    assert "spawn_n on a pool: exceptions of that work would be lost" in err
    assert "pkg/compute.py:5)" in err


def test_event_send_with_a_value_elsewhere_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/service.py": """\
            import eventlet


            class Service:
                def __init__(self):
                    self.stop = eventlet.event.Event()

                def stopped(self):
                    return self.stop.ready()
            """,
        "pkg/launcher.py": """\
            def halt(w):
                w.stop.send(42)
            """,
    })
    err, changed = refused(root)
    assert changed == []
    assert "send(value) delivers a value; threading.Event carries none" in err
    assert "pkg/launcher.py:2)" in err


def test_event_used_without_values_is_rewritten_in_every_file(tmp_path):
    root = make(tmp_path, {
        "pkg/service.py": """\
            import eventlet


            class Service:
                def __init__(self):
                    self.stop = eventlet.event.Event()

                def stopped(self):
                    return self.stop.ready()
            """,
        "pkg/launcher.py": """\
            def halt(w):
                w.stop.send()
            """,
    })
    rewrite_tree(root, write=True)
    service = read(root, "pkg/service.py")
    assert "self.stop = threading.Event()" in service and "self.stop.is_set()" in service
    assert "eventlet" not in service
    assert read(root, "pkg/launcher.py") == "def halt(w):\n    w.stop.set()\n"


def test_queue_sizes(tmp_path):
    root = make(tmp_path, {
        "pkg/q.py": """\
            import eventlet.queue


            def make():
                light = eventlet.queue.LightQueue(10)
                channel = eventlet.queue.Queue(0)
                return light.get(), channel.get()
            """,
    })
    err, _ = refused(root)
    assert "Queue(0) is a channel in eventlet" in err
    rewrite_tree(root, write=True)
    text = read(root, "pkg/q.py")
    assert "light = queue.Queue(10)" in text  # not SimpleQueue(10), a TypeError
    assert "channel = eventlet.queue.Queue(0)" in text


def test_pool_size_is_never_dropped(tmp_path):
    root = make(tmp_path, {
        "pkg/conductor.py": """\
            import eventlet


            def cache_images(threads, work):
                pool = eventlet.GreenPool(size=threads)
                return pool.spawn(work).wait()
            """,
    })
    err, changed = refused(root)
    assert changed == [] and "the pool size would be lost" in err


def test_alias_of_an_attribute_is_followed(tmp_path):
    root = make(tmp_path, {
        "pkg/a.py": """\
            import eventlet


            class A:
                def __init__(self):
                    self._pool = eventlet.GreenPool()

                def go(self, f):
                    pool = self._pool
                    pool.imap(f, [])
            """,
    })
    err, changed = refused(root)
    assert changed == [] and "imap() is lazy" in err and "pkg/a.py:10)" in err


def test_attribute_assigned_another_value_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/a.py": """\
            import eventlet


            class A:
                def __init__(self):
                    self.done = eventlet.event.Event()
            """,
        "pkg/b.py": """\
            class B:
                def __init__(self):
                    self.done = False
            """,
    })
    err, changed = refused(root)
    assert changed == [] and ".done is also assigned another value" in err and "pkg/b.py:3)" in err


def test_mocked_eventlet_name_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/retry.py": """\
            from eventlet import greenthread


            def retry(f):
                greenthread.sleep(1)
                return f()
            """,
        "pkg/tests/test_retry.py": """\
            from unittest import mock


            @mock.patch('pkg.retry.greenthread.sleep')
            def test_retry(mock_sleep):
                pass
            """,
    })
    err, changed = refused(root)
    assert changed == []
    assert "a test patches eventlet.greenthread.sleep, the patch would no longer apply" in err
    assert "pkg/tests/test_retry.py:4)" in err


def test_mocked_time_sleep_blocks_renaming_to_it(tmp_path):
    root = make(tmp_path, {
        "pkg/retry.py": """\
            import eventlet


            def retry(f):
                eventlet.sleep(1)
                return f()
            """,
        "pkg/tests/test_other.py": """\
            from unittest import mock


            @mock.patch('time.sleep')
            def test_other(mock_sleep):
                assert mock_sleep.call_count == 0
            """,
    })
    err, changed = refused(root)
    assert changed == [] and "time.sleep is mocked by a test" in err
    assert "pkg/tests/test_other.py:4)" in err


def test_class_used_as_a_value_is_refused(tmp_path):
    root = make(tmp_path, {
        "pkg/a.py": """\
            import eventlet


            def make():
                ev = eventlet.event.Event()
                ev.send()
            """,
        "pkg/tests/test_a.py": """\
            import eventlet


            def check(x):
                return isinstance(x, eventlet.event.Event)
            """,
    })
    err, changed = refused(root)
    assert changed == [] and "the class eventlet.event.Event is used as a value (argument)" in err
    assert "pkg/tests/test_a.py:5)" in err


def test_no_offramp_call_at_import_time(tmp_path):
    root = make(tmp_path, {
        "pkg/tests/test_driver.py": """\
            import eventlet
            from unittest import mock


            class TestDriver:
                pause = eventlet.sleep(0)

                @mock.patch('pkg.x', side_effect=eventlet.sleep(0))
                def test_a(self, m):
                    eventlet.sleep(0)
            """,
    })
    rewrite_tree(root, write=True)
    text = read(root, "pkg/tests/test_driver.py")
    assert "pause = eventlet.sleep(0)" in text
    assert "side_effect=eventlet.sleep(0)" in text
    assert "        offramp.cooperative_yield()\n" in text  # inside the test body


def test_bootstrap_warning_and_entry_point(tmp_path):
    files = {
        "pkg/lib.py": """\
            import eventlet


            def tick():
                eventlet.sleep(0)
            """,
        "pkg/cmd.py": """\
            from pkg import lib


            def main():
                \"\"\"Start.\"\"\"
                lib.tick()
            """,
    }
    root = make(tmp_path, files)
    err, _ = refused(root)
    assert "pkg/lib.py: gains offramp calls (line 5) but no module that calls " \
           "offramp.bootstrap() imports it" in err
    err, changed = refused(root, "--require-bootstrap")
    assert changed == [] and "pkg/lib.py: line 5: left alone: eventlet.sleep(0) -> " \
        "offramp.cooperative_yield(): no offramp.bootstrap() reaches this module" in err
    out = offramp("rewrite", root, "--write", "--entry-point", "pkg.cmd:main")
    assert out.returncode == 0 and "gains offramp calls" not in out.stderr
    assert read(root, "pkg/cmd.py") == (
        "import offramp\n\nfrom pkg import lib\n\n\ndef main():\n    \"\"\"Start.\"\"\"\n"
        "    offramp.bootstrap(default=\"eventlet\")\n    lib.tick()\n")
    again = offramp("rewrite", root, "--entry-point", "pkg.cmd:main")
    assert again.stdout == ""  # idempotent: already bootstraps
    bad = offramp("rewrite", root, "--entry-point", "pkg.nowhere:main")
    assert bad.returncode == 2 and "invalid --entry-point 'pkg.nowhere:main'" in bad.stderr


def test_keep_pragma_and_exclude(tmp_path):
    root = make(tmp_path, {
        "pkg/backends/green.py": """\
            import eventlet


            def cooperative_yield():  # offramp: keep
                eventlet.sleep(0)


            def other():
                eventlet.sleep(0)
            """,
        "pkg/backends/whole.py": """\
            # offramp: keep-file
            import eventlet


            def f():
                eventlet.sleep(0)
            """,
        "pkg/vendor/x.py": """\
            import eventlet


            def f():
                eventlet.sleep(1)
            """,
    })
    err, changed = refused(root, "--exclude", "pkg/vendor")
    assert "kept by an '# offramp: keep' pragma" in err
    assert changed == ["proj/pkg/backends/green.py"] or changed[0].endswith("pkg/backends/green.py")
    rewrite_tree(root, write=True, exclude_paths=("pkg/vendor",))
    green = read(root, "pkg/backends/green.py")
    assert "def cooperative_yield():  # offramp: keep\n    eventlet.sleep(0)" in green
    assert "def other():\n    offramp.cooperative_yield()" in green
    assert "eventlet.sleep(0)" in read(root, "pkg/backends/whole.py")
    assert "eventlet.sleep(1)" in read(root, "pkg/vendor/x.py")


def test_changed_files_pass_flake8_and_a_second_run_changes_nothing(tmp_path):
    root = make(tmp_path, {
        "pkg/a.py": """\
            \"\"\"A module.\"\"\"
            import os
            import time

            import eventlet
            from eventlet import queue

            from pkg import b


            def f():
                time.sleep(0)
                eventlet.sleep(2)
                q = queue.LightQueue()
                q.put(os.sep)
                return b, q.get()
            """,
        "pkg/b.py": """\
            import eventlet


            def g():
                eventlet.sleep(0)
            """,
    })
    rewrite_tree(root, write=True)
    assert read(root, "pkg/a.py") == (
        '"""A module."""\nimport os\nimport queue\nimport time\n\nimport offramp\n\n'
        "from pkg import b\n\n\ndef f():\n    offramp.cooperative_yield()\n    time.sleep(2)\n"
        "    q = queue.SimpleQueue()\n    q.put(os.sep)\n    return b, q.get()\n")
    flake = subprocess.run([sys.executable, "-m", "flake8", "--select", "F401,F811,F821,E3",
                            root], capture_output=True, text=True)
    assert flake.stdout == "" and flake.returncode == 0
    assert not any(r.result.changed for r in rewrite_tree(root, write=True).results)


def test_offramp_own_source_survives_its_own_rewrite(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), copy)
    before = {p: open(os.path.join(d, p), "rb").read() for d, _, ps in os.walk(copy) for p in ps
              if p.endswith(".py")}
    out = offramp("rewrite", str(copy), "--write")
    after = {p: open(os.path.join(d, p), "rb").read() for d, _, ps in os.walk(copy) for p in ps
             if p.endswith(".py")}
    assert out.returncode == 0, out.stderr
    assert after == before
    # The eventlet backend keeps using eventlet: no self-recursion.
    assert "_backends/_eventlet.py: line" in out.stderr
    assert "offramp's own code must not call its public API" in out.stderr


@pytest.mark.parametrize("jobs", ["2"])
def test_process_pool_gives_the_same_result(tmp_path, jobs):
    files = {f"pkg/m{i}.py": f"import eventlet\n\n\ndef f():\n    eventlet.sleep({i % 2})\n"
             for i in range(20)}
    root = make(tmp_path, files)
    serial = offramp("rewrite", root, "--jobs", "1")
    # A real process: the pool must not run inside a monkey-patched test process.
    pooled = subprocess.run([sys.executable, "-m", "offramp", "rewrite", root, "--jobs", jobs],
                            capture_output=True, text=True)
    assert pooled.returncode == 0, pooled.stderr
    assert pooled.stdout == serial.stdout  # the same diff
    assert "would rewrite 20 of 21 files (20 analysed): 20 fixes made" in pooled.stderr


def test_global_used_from_a_module_outside_the_package_is_followed(tmp_path):
    root = make(tmp_path, {
        "pkg/utils.py": """\
            import eventlet

            POOL = eventlet.GreenPool()
            """,
        "tools/bench.py": """\
            from pkg.utils import POOL


            def run(f):
                POOL.spawn_n(f)
            """,
    })
    err, changed = refused(root)
    assert changed == [] and "spawn_n on a pool" in err and "tools/bench.py:5)" in err
