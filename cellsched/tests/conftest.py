"""Fixtures that give tests real servers: PostgreSQL, MariaDB, RabbitMQ.

Each test gets its own uniquely named databases, dropped afterwards, so
several runs can share the servers.  A server that is down makes its tests
skip with the reason -- except under CI (``CI=true``), where it is a
failure (see ``cellsched_testlib.require_server``): a CI run must never go
green by skipping the real thing.
"""

from __future__ import annotations

import offramp
import pytest

# The offramp pytest plugin (--offramp-mode) has normally bootstrapped the
# session already, and then this is a no-op; a bare ``pytest`` run gets the
# mode from OFFRAMP_CONCURRENCY (threading when unset), like the CLI does.
offramp.bootstrap()

from cellsched_testlib import (RABBIT_URL, CellDatabases, Served,  # noqa: E402
                               require_server)


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
def serve(tmp_path, rabbit_url):
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
