"""pytest plugin: run a test session in one offramp mode.

The mode is process-global and cannot be undone, so a suite that must
pass in both modes runs twice, once per mode, each in its own pytest
process: ``pytest --offramp-mode=threading`` and
``pytest --offramp-mode=eventlet``. The mode is bootstrapped before any
conftest or test module is imported, and exported as
``OFFRAMP_CONCURRENCY`` so that subprocesses of the tests inherit it.

``@pytest.mark.offramp_mode("threading")`` marks a test that only makes
sense in one mode; in the other mode's session it is skipped with that
reason shown.

The ``offramp_no_leaks`` fixture (or ``--offramp-leak-check`` for every
test) fails a test that leaves pool tasks running, non-daemon threads
alive, or pools created and not shut down, and says where each leftover
came from.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

MODES = ("threading", "eventlet")


def pytest_addoption(parser):
    group = parser.getgroup("offramp")
    group.addoption(
        "--offramp-mode",
        choices=MODES,
        default=None,
        help="bootstrap offramp in this mode for the whole session "
        "(default: OFFRAMP_TEST_MODE, else no bootstrap)",
    )
    group.addoption(
        "--offramp-leak-check",
        action="store_true",
        default=False,
        help="apply the offramp_no_leaks check to every test",
    )
    parser.addini(
        "offramp_leak_grace",
        "seconds a test's leftovers get to finish before they count as leaks",
        default="1.0",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    mode = early_config.known_args_namespace.offramp_mode or os.environ.get(
        "OFFRAMP_TEST_MODE"
    )
    if not mode:
        return
    if mode not in MODES:
        raise pytest.UsageError(
            f"OFFRAMP_TEST_MODE has invalid value {mode!r}; accepted: "
            + ", ".join(MODES)
        )
    os.environ["OFFRAMP_CONCURRENCY"] = mode
    import offramp

    offramp.bootstrap(default=mode, name="pytest")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "offramp_mode(mode): the test only makes sense in this offramp mode",
    )


def pytest_report_header(config):
    from offramp import _runtime

    runtime = _runtime.peek()
    return f"offramp mode: {runtime.mode if runtime else 'not bootstrapped'}"


def pytest_collection_modifyitems(config, items):
    from offramp import _runtime

    runtime = _runtime.peek()
    for item in items:
        if config.getoption("offramp_leak_check"):
            item.fixturenames.insert(0, "offramp_no_leaks")
        marker = item.get_closest_marker("offramp_mode")
        if marker is None:
            continue
        wanted = marker.args[0] if marker.args else None
        if wanted not in MODES:
            raise pytest.UsageError(
                f"{item.nodeid}: offramp_mode marker has invalid mode "
                f"{wanted!r}; accepted: " + ", ".join(MODES)
            )
        if runtime is None or runtime.mode != wanted:
            item.add_marker(
                pytest.mark.skip(reason=f"only meaningful in {wanted} mode")
            )


@pytest.fixture
def offramp_no_leaks(request):
    """Fail the test if it leaves offramp work or threads behind."""
    from offramp import _runtime

    runtime = _runtime.peek()
    pools_before = set(runtime.pools.values()) if runtime else set()
    threads_before = set(threading.enumerate())
    yield
    grace = float(request.config.getini("offramp_leak_grace"))
    deadline = time.monotonic() + grace
    while True:
        leaks = _leaks(_runtime.peek(), pools_before, threads_before)
        if not leaks or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if leaks:
        pytest.fail("offramp leak check:\n  " + "\n  ".join(leaks), pytrace=False)


def _leaks(runtime, pools_before, threads_before) -> list[str]:
    found = []
    pools = list(runtime.pools.values()) if runtime else []
    for pool in pools:
        for record in pool.running_tasks():
            found.append(
                f"pool {pool.name} still runs task {record.task} "
                f"({time.monotonic() - record.started:.1f}s); pool created at "
                f"{pool.created_at}"
            )
        queued = pool.queued()
        if queued:
            found.append(f"pool {pool.name} still has {queued} queued task(s)")
        if pool not in pools_before:
            found.append(
                f"pool {pool.name} was created and not shut down; created at "
                f"{pool.created_at}"
            )
    for thread in threading.enumerate():
        if thread in threads_before or thread.daemon or not thread.is_alive():
            continue
        target = getattr(thread, "_target", None)
        code = getattr(target, "__code__", None)
        where = f"{code.co_filename}:{code.co_firstlineno}" if code else "unknown"
        found.append(
            f"non-daemon thread {thread.name!r} is still running; its target "
            f"is defined at {where}"
        )
    return found
