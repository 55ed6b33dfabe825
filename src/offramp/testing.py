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
"""

from __future__ import annotations

import os

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
