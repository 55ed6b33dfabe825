"""Fixtures that give tests real servers: PostgreSQL, MariaDB, RabbitMQ.

Each test gets its own uniquely named databases, dropped afterwards, so
several runs can share the servers.  A server that is down makes its tests
skip with the reason -- except under CI (``CI=true``), where it is a
failure (see ``cellsched_testlib.require_server``): a CI run must never go
green by skipping the real thing.

A test that uses a server fixture, or is parametrized with a server's name,
is marked ``needs_services`` here, so ``pytest -m "not needs_services"``
(``make test-quick``) runs without the servers.  A test that reaches a
server any other way without that marker fails, naming the marker.

A served ``cellsched serve`` under load holds up to about 30 PostgreSQL
connections, and the server's default max_connections is 100, so at most
SERVE_SLOTS tests that start one run at once across every pytest process
on the machine: the other mode's run and xdist workers alike
(``serve_slot``).  A test marked ``holds_many_connections`` (about 60)
takes every slot.
"""

from __future__ import annotations

import fcntl
import tempfile
import time
from pathlib import Path

import offramp
import pytest

# The offramp pytest plugin (--offramp-mode) has normally bootstrapped the
# session already, and then this is a no-op; a bare ``pytest`` run gets the
# mode from OFFRAMP_CONCURRENCY (threading when unset), like the CLI does.
offramp.bootstrap()

import cellsched_testlib  # noqa: E402
from cellsched_testlib import (RABBIT_URL, SERVERS, CellDatabases,  # noqa: E402
                               Served, require_server)

#: Fixtures that reach a real server: a test using one needs the services.
SERVER_FIXTURES = {"rabbit_url", "server_dbs", "serve"}
HERE = Path(__file__).parent


#: Lock files, one per test that may run a served process at a time; see
#: the module docstring.
SERVE_SLOTS = [Path(tempfile.gettempdir()) / f"offramp-tests-serve-{i}.lock"
               for i in range(2)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec else ()
        fixtures = set(getattr(item, "fixturenames", ()))
        if SERVER_FIXTURES & fixtures or \
                any(isinstance(p, str) and p in SERVERS for p in params):
            item.add_marker(pytest.mark.needs_services)


@pytest.fixture
def serve_slot(request):
    """Hold a machine-wide slot for a test that starts a served process:
    any free one, or every one for a test marked holds_many_connections."""
    files = [open(path, "a") for path in SERVE_SLOTS]
    try:
        if request.node.get_closest_marker("holds_many_connections"):
            for f in files:  # in order, so two such tests cannot deadlock
                fcntl.flock(f, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + 900
            while not any(_try_lock(f) for f in files):
                if time.monotonic() > deadline:
                    pytest.fail("no free serve slot in 900 s", pytrace=False)
                time.sleep(0.2)
        yield
    finally:
        for f in files:
            f.close()  # closing releases the lock, if this test held it


def _try_lock(f) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@pytest.fixture(autouse=True)
def _current_test(request):
    """Lets require_server() check the running test's needs_services."""
    cellsched_testlib.current_test = request.node
    yield
    cellsched_testlib.current_test = None


@pytest.fixture
def rabbit_url():
    require_server("rabbitmq")
    return RABBIT_URL


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def cell_dbs(request, tmp_path):
    """A CellDatabases factory for each backend in turn."""
    if request.param != "sqlite":
        require_server(request.param)
    dbs = CellDatabases(request.param, tmp_path)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def server_dbs(tmp_path):
    """Factory for one named real backend: server_dbs("mariadb")."""
    made = []

    def make(backend: str) -> CellDatabases:
        if backend != "sqlite":
            require_server(backend)
        dbs = CellDatabases(backend, tmp_path)
        made.append(dbs)
        return dbs

    yield make
    for dbs in made:
        dbs.drop_all()


@pytest.fixture
def serve(serve_slot, tmp_path, rabbit_url):
    """Factory: serve(cells_file, workers=2, extra=()) -> ready Served."""
    started = []

    def start(cells_file, workers=2, extra=()):
        s = Served(tmp_path, cells_file, rabbit_url, workers, extra)
        started.append(s)
        s.wait_ready()
        return s

    yield start
    for s in started:
        s.stop()
