"""Shared helpers for the reliability tests (faults, load, bad input).

They build on ``cellsched_testlib`` (real servers, ``serve --workers 2``)
and add what those tests need on top: cells that misbehave for real on the
database side, a load driver on a plain oslo.messaging client, parsers for
offramp's statistics lines in the worker logs, the books of every cell, and
a private RabbitMQ vhost whose connections can be dropped without touching
anyone else's.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time

import sqlalchemy as sa

from cellsched import cells as cells_mod
from cellsched import inventory, schema
from cellsched.load import run_load
from cellsched_testlib import (MARIADB_ADMIN_URL, PG_ADMIN_URL, rpc_client,
                               run_cli, unique_name, write_cells)

FLAVOR = {"vcpus": 1, "memory_mb": 512, "disk_gb": 10}


# --- cells ------------------------------------------------------------------

def closed_port() -> int:
    """A local TCP port with nothing listening on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthy_cells(server_dbs, tmp_path, hosts=10, vcpus=64) -> dict:
    """One MariaDB and one PostgreSQL cell, schema made and seeded with
    room for ``vcpus`` instances of FLAVOR per host (CPU, RAM and disk)."""
    entries = {"mdb": server_dbs("mariadb").create(1)["cell1"],
               "pg": server_dbs("postgresql").create(1)["cell1"]}
    path = write_cells(tmp_path, entries)
    run_cli("init", "--cells-file", path)
    run_cli("seed", "--cells-file", path, "--hosts", hosts, "--vcpus", vcpus,
            "--memory-mb", vcpus * FLAVOR["memory_mb"],
            "--disk-gb", vcpus * FLAVOR["disk_gb"])
    return entries


def _sleeping_view(engine, backend: str, seconds: float) -> None:
    """Turn ``compute_nodes`` into a view whose every read sleeps on the
    server, so the host-state query of the cell really hangs in the
    database (and only the server-side statement timeout can end it)."""
    schema.create_schema(engine)
    inventory.seed_cell(engine, "bad", 1, 64, 32768, 1024)
    with engine.begin() as conn:
        if backend == "mariadb":
            conn.execute(sa.text(
                "RENAME TABLE compute_nodes TO compute_nodes_real"))
            conn.execute(sa.text(
                f"CREATE VIEW compute_nodes AS SELECT * FROM "
                f"compute_nodes_real WHERE SLEEP({seconds}) = 0"))
        else:
            conn.execute(sa.text(
                "ALTER TABLE compute_nodes RENAME TO compute_nodes_real"))
            conn.execute(sa.text(
                f"CREATE FUNCTION hang() RETURNS boolean AS $$ BEGIN "
                f"PERFORM pg_sleep({seconds}); RETURN true; END $$ "
                f"LANGUAGE plpgsql VOLATILE"))
            conn.execute(sa.text(
                "CREATE VIEW compute_nodes AS SELECT * FROM "
                "compute_nodes_real WHERE hang()"))


#: kind -> (backend or None, what the cell does)
BAD_CELLS = {
    "hung-mariadb": ("mariadb", "host-state read sleeps 3600 s in MariaDB"),
    "hung-postgresql": ("postgresql",
                        "host-state read sleeps 3600 s in PostgreSQL"),
    "down": (None, "nothing listens on the cell's port"),
    "raises": ("mariadb", "database without the schema: every read raises"),
    "slow": ("mariadb", "host-state read takes 8 s, then answers"),
}


def bad_cell(kind: str, server_dbs, statement_timeout: float) -> dict:
    """A cells-file entry for a misbehaving cell of ``kind``; the database,
    if any, is dropped with the test's other databases."""
    backend, _ = BAD_CELLS[kind]
    if backend is None:
        return {"url": f"mysql+pymysql://root:pw@127.0.0.1:{closed_port()}"
                       f"/gone", "connect_timeout": 2}
    url = server_dbs(backend).create(1)["cell1"]
    # The slow cell's read ends by itself (8 s), before its statement
    # timeout; a hung one is ended by the server at ``statement_timeout``.
    entry = {"url": url, "statement_timeout":
             10.0 if kind == "slow" else statement_timeout}
    if kind != "raises":
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        _sleeping_view(engine, backend, 8 if kind == "slow" else 3600)
        engine.dispose()
    return entry


def running_queries(url: str) -> list[tuple[int, str]]:
    """(seconds, query) of every statement running in ``url``'s database,
    as the server itself sees it."""
    target = sa.make_url(url)
    backend = target.get_backend_name()
    admin = sa.create_engine(PG_ADMIN_URL if backend == "postgresql"
                             else MARIADB_ADMIN_URL,
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        if backend == "postgresql":
            rows = conn.execute(sa.text(
                "SELECT extract(epoch FROM now() - query_start)::int, query "
                "FROM pg_stat_activity WHERE datname = :db AND "
                "state = 'active' AND pid <> pg_backend_pid()"),
                {"db": target.database}).all()
        else:
            rows = conn.execute(sa.text(
                "SELECT TIME, INFO FROM information_schema.PROCESSLIST "
                "WHERE DB = :db AND COMMAND = 'Query'"),
                {"db": target.database}).all()
    admin.dispose()
    return [(int(t), str(q)) for t, q in rows]


def allocations(cells_file) -> dict[str, tuple[str, str]]:
    """consumer uuid -> (cell, host) over every cell of the file."""
    out = {}
    for cell in cells_mod.load_cells_file(str(cells_file)):
        engine = cells_mod.create_engine(cell)
        try:
            for consumer, host in inventory.allocation_consumers(
                    engine).items():
                out[consumer] = (cell.name, host)
        finally:
            engine.dispose()
    return out


def check(cells_file) -> dict:
    """``cellsched check --json`` as a user runs it (exit 1 = violation)."""
    import json
    proc = run_cli("check", "--cells-file", cells_file, "--json",
                   check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["ok"] else 1), proc.stderr
    return report


# --- load -------------------------------------------------------------------

class NotSent(Exception):
    """The test stopped the load before this request was sent."""


#: Seconds a patient call waits for its answer (see ``load``).
PATIENT_TIMEOUT = 120


def load(transport_url, topic, requests, concurrency, timeout=30,
         spec=None, stop=None, answered_at=None, sent=None, patient=None):
    """``requests`` calls from ``concurrency`` clients on one plain
    oslo.messaging client; returns cellsched's LoadResult (outcomes,
    latencies, selections), every request accounted for.

    ``stop`` (an Event) ends the run early: the rest count as NotSent.
    ``answered_at`` (a list) receives the monotonic time of every answer,
    so a test can tell what was answered after it broke something.
    ``sent`` (a list) receives ``(sent_at, ended_at, outcome)`` for every
    call sent.
    ``patient`` (an Event): calls sent once it is set wait PATIENT_TIMEOUT
    for their answer, so a busy machine cannot make them time out.
    """
    import oslo_messaging
    from cellsched.rpc import classify
    transport, client = rpc_client(transport_url, topic, timeout=timeout)
    patient_client = client.prepare(timeout=PATIENT_TIMEOUT)
    extra = dict(spec or {})

    def call(request_spec):
        if stop is not None and stop.is_set():
            raise NotSent()
        sent_at = time.monotonic()
        caller = patient_client if patient is not None and patient.is_set() \
            else client
        outcome = "selected"
        try:
            out = caller.call({}, "select_destinations",
                              request_spec={**request_spec, **extra})
        except oslo_messaging.RemoteError as exc:  # an answer too
            outcome = classify(exc)
            if answered_at is not None:
                answered_at.append(time.monotonic())
            raise
        except Exception as exc:
            outcome = classify(exc)
            raise
        finally:
            if sent is not None:
                sent.append((sent_at, time.monotonic(), outcome))
        if answered_at is not None:
            answered_at.append(time.monotonic())
        return out

    try:
        return run_load(call, classify, requests=requests,
                        concurrency=concurrency, flavor=FLAVOR)
    finally:
        transport.cleanup()


class Background:
    """Runs ``load(...)`` in a thread while the test breaks something."""

    def __init__(self, *args, **kwargs):
        self.result = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=args,
                                        kwargs=kwargs, name="bg-load")
        self._thread.start()

    def _run(self, *args, **kwargs):
        try:
            self.result = load(*args, **kwargs)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the load never finished: hung"
        if self.error:
            raise self.error
        return self.result


def selections(result) -> dict[str, tuple[str, str]]:
    return {s["instance_uuid"]: (s["cell"], s["host"])
            for s in result.selections}


# --- worker logs ------------------------------------------------------------

STATE_RE = re.compile(
    r" (?P<pid>\d+) INFO offramp: State of \S+\.(?P<pool>\w+) \w+: "
    r"max_workers: (?P<max>\d+), workers: (?P<workers>\d+), idle workers: "
    r"(?P<idle>\d+), queued work: (?P<queued>\d+)")
ABANDONED_RE = re.compile(
    r" (?P<pid>\d+) INFO offramp: Abandoned tasks of \S+\.(?P<pool>\w+) "
    r"executor: (?P<targets>\{.*\})")
FINISHED_RE = re.compile(
    r"Abandoned task of target (?P<target>\S+) on pool \S+ finished "
    r"(?P<after>[\d.]+)s after it was given up")


def pool_states(log: str, pool="scatter_gather") -> list[dict]:
    return [{k: int(v) if v.isdigit() else v
             for k, v in m.groupdict().items()}
            for m in STATE_RE.finditer(log) if m["pool"] == pool]


def max_abandoned(log: str, target: str) -> int:
    """The most abandoned tasks ``target`` ever had in one worker, from the
    periodic 'Abandoned tasks of ...' statistics lines."""
    import ast
    counts = [ast.literal_eval(m["targets"]).get(target, 0)
              for m in ABANDONED_RE.finditer(log)]
    return max(counts, default=0)


def worker_pids(log: str) -> list[int]:
    return [int(p) for p in
            re.findall(r"cellsched worker (\d+) serving topic", log)]


# --- RabbitMQ ---------------------------------------------------------------

def rabbitmqctl(*args) -> str:
    proc = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class RabbitVhost:
    """A vhost of our own, so dropping "all" its connections drops only
    this test's service and clients."""

    def __init__(self):
        self.name = unique_name("vh")
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*",
                    ".*")
        self.url = f"rabbit://guest:guest@127.0.0.1:5672/{self.name}"

    def connections(self) -> int:
        return rabbitmqctl("list_connections", "--no-table-headers",
                           "vhost").split().count(self.name)

    def drop_connections(self) -> None:
        rabbitmqctl("close_all_connections", "--vhost", self.name,
                    "reliability test: connection dropped")

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
