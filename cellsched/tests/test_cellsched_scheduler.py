"""The scheduler in-process: failed and hung cells are skipped with a
WARNING within the scatter-gather timeout; partial placements are undone."""

from __future__ import annotations

import logging
import socket
import time

import offramp
import pytest

from cellsched import cells as cells_mod
from cellsched import inventory, schema
from cellsched.scheduler import NoValidHost, Scheduler
from cellsched.weighers import parse_weighers

FLAVOR = {"vcpus": 1, "memory_mb": 512, "disk_gb": 10}
#: What a busy machine may add to a bound.
ALLOWANCE = 10.0


def _sqlite_cells(tmp_path, count, hosts, vcpus=16):
    out = []
    for i in range(1, count + 1):
        cell = cells_mod.cell_from_entry(
            f"cell{i}", f"sqlite:///{tmp_path / f'cell{i}.db'}")
        engine = cells_mod.create_engine(cell)
        schema.create_schema(engine)
        inventory.seed_cell(engine, cell.name, hosts, vcpus, 4096, 100,
                            ("az1",))
        engine.dispose()
        out.append(cell)
    return out


@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections and never says a word; closing
    it resets the connections it holds."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener
    listener.close()


def _wait_for_abandoned_reads(cell: str, timeout: float = 60) -> None:
    """Wait until no abandoned read of ``cell`` is still running, so none
    outlives its test."""
    deadline = time.monotonic() + timeout
    while any(pool["abandoned_by_target"].get(cell)
              for pool in offramp.executor_snapshot()["pools"].values()):
        assert time.monotonic() < deadline, f"read of {cell} never ended"
        time.sleep(0.05)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failed_and_hung_cells_are_skipped_with_warning(
        tmp_path, silent_listener, caplog):
    good = _sqlite_cells(tmp_path, 2, hosts=2)
    dead = cells_mod.cell_from_entry("dead", {
        "url": f"postgresql+psycopg://u:pw@127.0.0.1:{_closed_port()}/db",
        "connect_timeout": 2})
    # The hung cell's own timeouts are far longer than the scatter-gather
    # timeout: had the scheduler waited, it would have failed, not timed out.
    port = silent_listener.getsockname()[1]
    hung = cells_mod.cell_from_entry("hung", {
        "url": f"mysql+pymysql://u:pw@127.0.0.1:{port}/db",
        "connect_timeout": 30, "read_timeout": 30})
    sched = Scheduler(good + [dead, hung], parse_weighers(["ram"]),
                      scatter_gather_timeout=1.0)
    try:
        caplog.set_level(logging.WARNING, logger="cellsched")
        start = time.monotonic()
        sel = sched.select_destinations({"flavor": FLAVOR})
        elapsed = time.monotonic() - start
        assert sel[0]["cell"] in ("cell1", "cell2")
        # The hung cell costs the timeout, not its 30 s read timeout.
        assert elapsed < 1.0 + ALLOWANCE
        warnings = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING
                    and r.name == "cellsched.scheduler"]
        assert any(m.startswith("Cell hung did not respond")
                   for m in warnings), warnings
        assert any(m.startswith("Cell dead failed") for m in warnings)
        assert not any(":pw@" in m for m in warnings)
    finally:
        silent_listener.close()  # resets the hung read
        _wait_for_abandoned_reads("hung")
        sched.engines.dispose()


def test_partial_multi_instance_request_is_released(tmp_path):
    # Two hosts of 1 vCPU: a 3-instance request can place 2, then fails;
    # the 2 claims must be given back.
    cells = _sqlite_cells(tmp_path, 1, hosts=2, vcpus=1)
    sched = Scheduler(cells, parse_weighers(["ram"]))
    try:
        with pytest.raises(NoValidHost) as info:
            sched.select_destinations({"flavor": FLAVOR,
                                       "num_instances": 3})
        assert "only 2 could be placed (released)" in str(info.value)
        # A host filled by this request's own claim is filtered out, not
        # claimed again and lost as if to a concurrent request.
        assert "rejected: 2 not enough vCPUs" in str(info.value)
        assert sched.counters["lost_races"] == 0
        engine = sched.engines["cell1"]
        assert inventory.cell_summary(engine)["allocations"] == 0
        assert inventory.check_cell(engine, "cell1") == []
        # Two instances fit exactly and stay claimed.
        sel = sched.select_destinations({"flavor": FLAVOR,
                                         "num_instances": 2})
        assert len({s["host"] for s in sel}) == 2
        assert inventory.cell_summary(engine)["vcpus_used"] == 2
    finally:
        sched.engines.dispose()


def test_no_valid_host_explains_why(tmp_path):
    cells = _sqlite_cells(tmp_path, 1, hosts=3)
    sched = Scheduler(cells, parse_weighers(["ram"]))
    try:
        with pytest.raises(NoValidHost) as info:
            sched.select_destinations({"flavor": FLAVOR,
                                       "availability_zone": "az9"})
        assert "3 hosts considered" in str(info.value)
        assert "3 availability zone" in str(info.value)
    finally:
        sched.engines.dispose()


def test_locked_postgresql_cell_is_cut_off_by_statement_timeout(
        tmp_path, server_dbs, caplog):
    """A cell whose host-state read blocks on a lock is skipped.

    The scatter-gather timeout returns first, in both modes: in eventlet
    mode offramp makes psycopg wait with a patched (green) select(), so the
    blocked read no longer stalls the hub.  Had it stalled, the server-side
    statement_timeout would have ended the read with an error instead, and
    the cell would be logged as failed, not as not responding.
    """
    import sqlalchemy as sa

    good = _sqlite_cells(tmp_path, 1, hosts=2)
    url = server_dbs("postgresql").create(1)["cell1"]
    pg = cells_mod.cell_from_entry("pg", {"url": url,
                                          "statement_timeout": 5})
    pg_engine = cells_mod.create_engine(pg)
    schema.create_schema(pg_engine)
    inventory.seed_cell(pg_engine, "pg", 2, 16, 4096, 100)
    sched = Scheduler(good + [pg], parse_weighers(["ram"]),
                      scatter_gather_timeout=0.5)
    holder = pg_engine.connect()
    trans = holder.begin()
    holder.execute(sa.text("LOCK TABLE compute_nodes IN ACCESS EXCLUSIVE "
                           "MODE"))
    try:
        caplog.set_level(logging.WARNING, logger="cellsched")
        start = time.monotonic()
        sel = sched.select_destinations({"flavor": FLAVOR})
        elapsed = time.monotonic() - start
        assert sel[0]["cell"] == "cell1"
        assert elapsed < 0.5 + ALLOWANCE, offramp.current_mode()
        warnings = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING]
        assert any(m.startswith("Cell pg did not respond") for m in warnings), \
            (offramp.current_mode(), warnings)
    finally:
        trans.rollback()  # the abandoned read goes on, and ends
        holder.close()
        _wait_for_abandoned_reads("pg")
        sched.engines.dispose()
        pg_engine.dispose()


def test_retry_with_same_uuids_returns_the_earlier_claim(tmp_path):
    """A retried request (its reply was lost) must not claim twice."""
    import uuid

    from cellsched.request import InvalidRequest

    cells = _sqlite_cells(tmp_path, 2, hosts=2)
    sched = Scheduler(cells, parse_weighers(["ram"]))
    try:
        uuids = [str(uuid.uuid4()), str(uuid.uuid4())]
        spec = {"flavor": FLAVOR, "num_instances": 2,
                "instance_uuids": uuids}
        first = sched.select_destinations(spec)
        again = sched.select_destinations(spec)
        assert again == first
        used = sum(inventory.cell_summary(sched.engines[c.name])
                   ["vcpus_used"] for c in cells)
        assert used == 2
        with pytest.raises(InvalidRequest, match="already has an "
                           "allocation of"):
            sched.select_destinations({
                "flavor": {**FLAVOR, "vcpus": 2},
                "instance_uuids": [uuids[0]]})
        for c in cells:
            assert inventory.check_cell(sched.engines[c.name], c.name) == []
    finally:
        sched.engines.dispose()
