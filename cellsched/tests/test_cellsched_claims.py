"""Claims against real databases: no over-commit under concurrency, the
books balance, and every DB call is bounded by the cell's timeouts."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from cellsched import cells, claims, inventory, schema
from cellsched.request import Flavor


def _engine(url: str, **timeouts) -> sa.Engine:
    cell = cells.cell_from_entry("c1", {"url": url, **timeouts})
    engine = cells.create_engine(cell, pool_size=20, max_overflow=20)
    schema.create_schema(engine)
    return engine


def _node_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(schema.compute_nodes.c.id)).scalar()


def test_concurrent_claims_never_overcommit(cell_dbs):
    url = cell_dbs.create(1)["cell1"]
    engine = _engine(url)
    try:
        inventory.seed_cell(engine, "c1", 1, vcpus=10, memory_mb=100000,
                            disk_gb=1000)
        node = _node_id(engine)
        flavor = Flavor(vcpus=1, memory_mb=100, disk_gb=1)
        won, barrier = [], threading.Barrier(30)

        def racer():
            barrier.wait()
            for _ in range(2):
                if claims.claim(engine, node, str(uuid.uuid4()), flavor):
                    won.append(1)

        threads = [threading.Thread(target=racer) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # 60 attempts, room for exactly 10.
        assert len(won) == 10
        assert inventory.check_cell(engine, "c1") == []
        summary = inventory.cell_summary(engine)
        assert summary["vcpus_used"] == 10 and summary["allocations"] == 10
    finally:
        engine.dispose()


def test_duplicate_consumer_and_release(cell_dbs):
    engine = _engine(cell_dbs.create(1)["cell1"])
    try:
        inventory.seed_cell(engine, "c1", 1, 4, 4096, 100)
        node = _node_id(engine)
        flavor = Flavor(2, 1024, 10)
        consumer = str(uuid.uuid4())
        assert claims.claim(engine, node, consumer, flavor)
        with pytest.raises(claims.ConsumerAlreadyAllocated):
            claims.claim(engine, node, consumer, flavor)
        # The failed duplicate left no trace in the counters.
        assert inventory.cell_summary(engine)["vcpus_used"] == 2
        assert inventory.check_cell(engine, "c1") == []
        assert claims.release(engine, consumer)
        assert not claims.release(engine, consumer)
        s = inventory.cell_summary(engine)
        assert s["vcpus_used"] == 0 and s["allocations"] == 0
    finally:
        engine.dispose()


def test_read_cell_returns_each_host_once_with_the_callers_allocations(
        cell_dbs):
    """One statement reads hosts and allocations; a node holding two of the
    caller's consumers still comes back once, and others' are not shown."""
    engine = _engine(cell_dbs.create(1)["cell1"])
    try:
        inventory.seed_cell(engine, "c1", 3, 8, 8192, 100)
        with engine.connect() as conn:
            ids = conn.execute(sa.select(schema.compute_nodes.c.id)
                               .order_by(schema.compute_nodes.c.id)
                               ).scalars().all()
        mine = [str(uuid.uuid4()) for _ in range(3)]
        other = str(uuid.uuid4())
        for consumer, node, vcpus in ((mine[0], ids[0], 1),
                                      (mine[1], ids[0], 2),
                                      (mine[2], ids[1], 3),
                                      (other, ids[1], 4)):
            assert claims.claim(engine, node, consumer,
                                Flavor(vcpus, 512, 10))

        hosts, existing = inventory.read_cell(
            engine, "c1", [*mine, str(uuid.uuid4())])
        assert sorted(h.id for h in hosts) == ids
        used = {h.id: h.vcpus_used for h in hosts}
        assert used == {ids[0]: 3, ids[1]: 7, ids[2]: 0}
        assert set(existing) == set(mine)
        by_id = {h.id: h for h in hosts}
        for consumer, node, vcpus in ((mine[0], ids[0], 1),
                                      (mine[1], ids[0], 2),
                                      (mine[2], ids[1], 3)):
            found = existing[consumer]
            assert found["resources"] == (vcpus, 512, 10)
            assert found["selection"] == {
                "instance_uuid": consumer, "cell": "c1",
                "host": by_id[node].host, "node_uuid": by_id[node].uuid,
                "availability_zone": by_id[node].availability_zone}
        # No consumers: the plain host read.
        assert sorted(h.id for h in inventory.read_cell(engine, "c1")[0]) \
            == ids
        assert inventory.read_cell(engine, "c1")[1] == {}
    finally:
        engine.dispose()


def test_check_reports_overcommit_and_mismatch(cell_dbs):
    engine = _engine(cell_dbs.create(1)["cell1"])
    try:
        inventory.seed_cell(engine, "c1", 2, 4, 4096, 100)
        with engine.begin() as conn:
            conn.execute(schema.compute_nodes.update()
                         .where(schema.compute_nodes.c.host == "c1-host00000")
                         .values(vcpus_used=5))
        problems = inventory.check_cell(engine, "c1")
        assert any("over-committed" in p for p in problems)
        assert any("sum of allocations 0" in p for p in problems)
    finally:
        engine.dispose()


# Bounds below are the configured timeout plus what a busy machine may add;
# without the timeout the statement sleeps 60 s, the silent server forever.
ALLOWANCE = 10.0


@pytest.mark.parametrize("backend,sleep_sql", [
    ("postgresql", "SELECT pg_sleep(60)"),
    ("mariadb", "SELECT SLEEP(60)"),
])
def test_statement_timeout_is_enforced_by_the_server(
        server_dbs, backend, sleep_sql):
    url = server_dbs(backend).create(1)["cell1"]
    engine = _engine(url, statement_timeout=0.5)
    try:
        start = time.monotonic()
        with pytest.raises(sa.exc.OperationalError):
            with engine.connect() as conn:
                conn.execute(sa.text(sleep_sql)).all()
        assert time.monotonic() - start < 0.5 + ALLOWANCE
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_connect_timeout_bounds_a_silent_server(scheme):
    # A socket that accepts TCP connections but never speaks: the driver
    # must give up after the cell's connect timeout, not hang.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    cell = cells.cell_from_entry("silent", {
        "url": f"{scheme}://u:secretpw@127.0.0.1:{port}/db",
        "connect_timeout": 2, "read_timeout": 2})
    engine = cells.create_engine(cell)
    try:
        start = time.monotonic()
        with pytest.raises(sa.exc.OperationalError) as info:
            inventory.host_states(engine, "silent")
        assert time.monotonic() - start < 2 + ALLOWANCE
        assert "secretpw" not in str(info.value)
    finally:
        engine.dispose()
        listener.close()


def test_sqlite_writers_in_one_process_queue_instead_of_timing_out(tmp_path):
    """SQLite admits one writer; the others must wait on the in-process
    writer lock, not in SQLite's busy handler. With a 10 ms busy timeout,
    racing claims without the lock fail with "database is locked" under
    native threads. (Under eventlet, SQLite calls never yield, so writers
    do not overlap in the first place; the test holds there too.)"""
    url = f"sqlite:///{tmp_path / 'cell.db'}"
    engine = _engine(url, read_timeout=0.01)
    try:
        inventory.seed_cell(engine, "c1", 4, vcpus=1000, memory_mb=10**6,
                            disk_gb=10**5)
        with engine.connect() as conn:
            nodes = conn.execute(sa.select(schema.compute_nodes.c.id)
                                 ).scalars().all()
        flavor = Flavor(vcpus=1, memory_mb=1, disk_gb=1)
        errors, won = [], []
        barrier = threading.Barrier(8)

        def racer(i):
            barrier.wait()
            for n in range(40):
                try:
                    if claims.claim(engine, nodes[(i + n) % 4],
                                    str(uuid.uuid4()), flavor):
                        won.append(1)
                except Exception as exc:  # noqa: BLE001 - counted below
                    errors.append(f"{type(exc).__name__}: {exc}"[:120])

        threads = [threading.Thread(target=racer, args=(i,))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(won) == 320
        assert inventory.check_cell(engine, "c1") == []
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def server_cell(request, tmp_path):
    """One cell on a database server, and a way to kill a session there."""
    from cellsched_testlib import CellDatabases, require_server
    require_server(request.param)
    dbs = CellDatabases(request.param, tmp_path)
    if request.param == "postgresql":
        session_id, kill = "SELECT pg_backend_pid()", \
            "SELECT pg_terminate_backend({})"
        alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = {}"
    else:
        session_id, kill = "SELECT CONNECTION_ID()", "KILL {}"
        alive = ("SELECT count(*) FROM information_schema.PROCESSLIST "
                 "WHERE ID = {}")

    def kill_session(engine):
        """Kill the pooled connection's session; return once the server
        has ended it."""
        with engine.connect() as conn:
            sid = int(conn.execute(sa.text(session_id)).scalar())
        admin = dbs._admin()
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(kill.format(sid)))
                deadline = time.monotonic() + 30
                while conn.execute(sa.text(alive.format(sid))).scalar():
                    assert time.monotonic() < deadline, "session not ended"
                    time.sleep(0.01)
        finally:
            admin.dispose()

    yield dbs.create(1)["cell1"], kill_session
    dbs.drop_all()


@pytest.mark.parametrize("idle_for", [0.2, 60.0])
def test_pooled_connection_killed_by_the_server(server_cell, monkeypatch,
                                                idle_for):
    """Server connections are pinged only after sitting idle in the pool.

    Idle longer than the threshold: the ping finds the dead connection and
    the pool replaces it, so the read succeeds. Used within the threshold:
    no ping, so the first read fails (the scheduler skips that cell for
    one request) and SQLAlchemy's invalidation makes the next one work.
    """
    monkeypatch.setattr(cells, "PING_WHEN_IDLE_FOR", idle_for)
    url, kill_session = server_cell
    engine = _engine(url)
    try:
        inventory.seed_cell(engine, "c1", 2, vcpus=4, memory_mb=4096,
                            disk_gb=40)
        assert engine.pool.checkedin() == 1  # the one the next read gets
        kill_session(engine)
        if idle_for < 1:
            # The behaviour under test: the connection sits idle in the
            # pool past the threshold.
            time.sleep(idle_for + 0.1)
            assert len(inventory.host_states(engine, "c1")) == 2
        else:
            with pytest.raises(sa.exc.DBAPIError) as failed:
                inventory.host_states(engine, "c1")
            assert failed.value.connection_invalidated
            assert len(inventory.host_states(engine, "c1")) == 2
    finally:
        engine.dispose()
