"""thread_stack_size and malloc_arena_max: validated like every setting,
applied by the threading backend at bootstrap (each case in its own
process, since both act on the whole process).
"""

import platform

import pytest

import offramp
from offramp import _config


@pytest.mark.parametrize("name, value", [
    ("OFFRAMP_THREAD_STACK_SIZE", "512"),      # below 1 MiB: would segfault
    ("OFFRAMP_THREAD_STACK_SIZE", "-1"),
    ("OFFRAMP_THREAD_STACK_SIZE", "8M"),
    ("OFFRAMP_MALLOC_ARENA_MAX", "-2"),
    ("OFFRAMP_MALLOC_ARENA_MAX", "two"),
])
def test_bad_values_name_their_source(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(offramp.ConfigurationError) as err:
        _config.load()
    assert f"{name} has invalid value {value!r}" in str(err.value)
    assert "accepted: 0 (" in str(err.value)


def test_defaults_and_config_file(tmp_path, monkeypatch):
    for name in ("OFFRAMP_THREAD_STACK_SIZE", "OFFRAMP_MALLOC_ARENA_MAX"):
        monkeypatch.delenv(name, raising=False)
    assert (_config.load().thread_stack_size, _config.load().malloc_arena_max) == (0, 0)
    conf = tmp_path / "svc.conf"
    conf.write_text("[offramp]\nthread_stack_size = 2048\nmalloc_arena_max = 2\n")
    settings = _config.load(str(conf))
    assert (settings.thread_stack_size, settings.malloc_arena_max) == (2048, 2)
    monkeypatch.setenv("OFFRAMP_MALLOC_ARENA_MAX", "0")
    assert _config.load(str(conf)).malloc_arena_max == 0


@pytest.mark.mode_independent
def test_stack_size_is_set_and_the_minimum_still_raises_recursion_error(run_python):
    proc = run_python(
        """
        import sys, threading
        import offramp
        offramp.bootstrap()
        print(threading.stack_size())

        def deep(n):
            return deep(n + 1)

        def task():
            try:
                deep(0)
            except RecursionError:
                return "RecursionError"

        print(offramp.spawn(task).result())
        """,
        env={"OFFRAMP_CONCURRENCY": "threading", "OFFRAMP_THREAD_STACK_SIZE": "1024"},
        check=0)
    assert proc.stdout.split() == [str(1024 * 1024), "RecursionError"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.mode_independent
def test_malloc_arena_max_caps_the_arenas(run_python):
    """malloc_stats() prints one "Arena N:" block per arena; threads that
    allocate at the same time would otherwise get arenas of their own.
    """
    code = """
        import ctypes, threading
        import offramp
        offramp.bootstrap()
        barrier = threading.Barrier(8)

        def churn():
            barrier.wait()
            for _ in range(20000):
                bytearray(4096)

        threads = [threading.Thread(target=churn) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        ctypes.CDLL(None).malloc_stats()
        """
    capped = run_python(code, env={"OFFRAMP_CONCURRENCY": "threading",
                                   "OFFRAMP_MALLOC_ARENA_MAX": "1"}, check=0)
    assert capped.stderr.count("Arena ") == 1, capped.stderr
    free = run_python(code, env={"OFFRAMP_CONCURRENCY": "threading"}, check=0)
    assert free.stderr.count("Arena ") > 1, free.stderr
