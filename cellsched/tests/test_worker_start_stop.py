"""Worker start, seen from the databases and from the process
table: ``cellsched serve`` on RabbitMQ with a MariaDB and a PostgreSQL
cell, in the session's mode.

* Warm start: every worker opens its cell connections before it takes its
  first request, at start and after a kill -9 respawn; the first requests
  open none.  Counted on the servers (``information_schema.PROCESSLIST``,
  ``pg_stat_activity``) and matched to each worker by its client ports.
"""

from __future__ import annotations

import os
import signal

import psutil
import pytest
import sqlalchemy as sa

from cellsched_testlib import MARIADB_ADMIN_URL, PG_ADMIN_URL
from reliability_lib import check, healthy_cells, load, wait_for, worker_pids

pytestmark = pytest.mark.needs_services

WARM = 2   # the default of [cellsched] warm_connections


def _server_sessions(url: str) -> set[int]:
    """Client ports of the sessions on ``url``'s database, as its server
    lists them."""
    target = sa.make_url(url)
    postgresql = target.get_backend_name() == "postgresql"
    admin = sa.create_engine(PG_ADMIN_URL if postgresql
                             else MARIADB_ADMIN_URL,
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        if postgresql:
            rows = conn.execute(sa.text(
                "SELECT client_port FROM pg_stat_activity WHERE datname = "
                ":db AND client_port IS NOT NULL"), {"db": target.database})
            ports = {int(port) for port, in rows}
        else:
            rows = conn.execute(sa.text(
                "SELECT HOST FROM information_schema.PROCESSLIST WHERE DB = "
                ":db"), {"db": target.database})
            ports = {int(host.rpartition(":")[2]) for host, in rows
                     if ":" in host}
    admin.dispose()
    return ports


def _sessions(pid: int, url: str) -> set[int]:
    """The sessions on ``url``'s database that belong to process ``pid``."""
    server_port = sa.make_url(url).port
    mine = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp")
            if c.raddr and c.raddr.port == server_port}
    return mine & _server_sessions(url)


def _by_worker(pids, cells) -> dict:
    return {(pid, name): _sessions(pid, url) for pid in pids
            for name, url in cells.items()}


def _connected_before_serving(log: str, pid: int, ncells: int) -> bool:
    connected = log.find(f"cellsched worker {pid} connected to {ncells} of "
                         f"{ncells} cells")
    serving = log.find(f"cellsched worker {pid} serving topic")
    return 0 <= connected < serving


def test_workers_connect_to_every_cell_before_their_first_request(
        server_dbs, tmp_path, serve, rabbit_url):
    cells = healthy_cells(server_dbs, tmp_path, hosts=2)
    cells_file = str(tmp_path / "cells.json")
    served = serve(cells_file, extra=["--stats-interval", "0"])
    pids = worker_pids(served.log())
    assert len(pids) == 2

    # Before any request, each worker holds its connections to each cell,
    # opened before it began to serve.
    before = _by_worker(pids, cells)
    assert {k: len(v) for k, v in before.items()} == \
        {k: WARM for k in before}, before
    for pid in pids:
        assert _connected_before_serving(served.log(), pid, len(cells))
    # One request at a time: none of them opens a connection.
    first = load(rabbit_url, served.topic, 8, 1)
    assert first.outcomes == {"selected": 8}
    assert _by_worker(pids, cells) == before

    # A respawned worker connects before it serves, too.
    os.kill(pids[0], signal.SIGKILL)
    wait_for(lambda: len(worker_pids(served.log())) == 3, 60,
             what="the killed worker to be respawned")
    new = worker_pids(served.log())[-1]
    assert _connected_before_serving(served.log(), new, len(cells))
    survivors = [pids[1], new]
    respawned = _by_worker(survivors, cells)
    assert {k: len(v) for k, v in respawned.items()} == \
        {k: WARM for k in respawned}, respawned
    after = load(rabbit_url, served.topic, 8, 1)
    assert after.outcomes == {"selected": 8}
    assert _by_worker(survivors, cells) == respawned
    assert check(cells_file)["ok"]
    assert served.stop() == 0
