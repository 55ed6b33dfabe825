import os
import re
import subprocess
import sys
import textwrap

import pytest

import offramp


@pytest.fixture
def mode():
    """The mode this pytest session was bootstrapped in."""
    return offramp.current_mode().value


@pytest.fixture
def run_python():
    """Run a Python snippet in a fresh interpreter; return the result.

    Bootstrap is once per process, so anything about process start
    (precedence, guards, fork) is proven in a real child process.
    """

    def run(code, env=None, timeout=180, check=None):
        full_env = dict(os.environ)
        full_env.pop("OFFRAMP_CONCURRENCY", None)
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=full_env, capture_output=True, text=True, timeout=timeout,
        )
        if check is not None:
            assert proc.returncode == check, (proc.stdout, proc.stderr)
        return proc

    return run


@pytest.fixture
def unique_pool(request, mode, monkeypatch):
    """A fresh pool name with a given size, shut down after the test."""
    created = []

    def make(size):
        name = re.sub(r"[^a-z0-9]+", "_", f"t{len(created)}_{request.node.name[:40]}".lower())
        monkeypatch.setenv(f"OFFRAMP_{mode.upper()}_POOL_{name.upper()}", str(size))
        pool = offramp.get_executor(name)
        created.append(pool)
        return pool

    yield make
    offramp.shutdown_executors()
