"""Helpers for the cellsched tests: real servers, real CLI processes.

Kept out of conftest.py so test modules can import them by a name that
cannot collide with another conftest in the repository.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

SERVERS = {
    "postgresql": ("127.0.0.1", 5432),
    "mariadb": ("127.0.0.1", 3306),
    "rabbitmq": ("127.0.0.1", 5672),
}
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN_URL = "mysql+pymysql://root:@127.0.0.1:3306/test"
RABBIT_URL = "rabbit://guest:guest@127.0.0.1:5672/"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


#: The running test (set by conftest.py), so require_server() can insist on
#: its needs_services marker.
current_test = None


def require_server(name: str) -> None:
    """Fail (CI) or skip (elsewhere) when ``name`` is not reachable.

    The running test must be marked ``needs_services`` (conftest.py marks
    every user of a server fixture), or ``make test-quick`` would try it.
    """
    if current_test is not None and \
            current_test.get_closest_marker("needs_services") is None:
        pytest.fail(f"{current_test.nodeid} needs {name} but is not marked "
                    f"@pytest.mark.needs_services", pytrace=False)
    host, port = SERVERS[name]
    if _reachable(host, port):
        return
    msg = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{msg} and CI=true: real-server tests must not skip",
                    pytrace=False)
    pytest.skip(msg)


def unique_name(prefix: str = "cs") -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


class CellDatabases:
    """Creates databases for cells on one backend; drops them all at the
    end of the test."""

    def __init__(self, backend: str, tmp_path):
        self.backend = backend
        self.tmp_path = tmp_path
        self.created: list[str] = []

    def _admin(self):
        import sqlalchemy as sa
        url = PG_ADMIN_URL if self.backend == "postgresql" \
            else MARIADB_ADMIN_URL
        return sa.create_engine(url, isolation_level="AUTOCOMMIT",
                                poolclass=sa.pool.NullPool)

    def url(self, dbname: str) -> str:
        if self.backend == "postgresql":
            return f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
        if self.backend == "mariadb":
            return f"mysql+pymysql://root:@127.0.0.1:3306/{dbname}"
        return f"sqlite:///{self.tmp_path / (dbname + '.db')}"

    def create(self, count: int) -> dict[str, str]:
        import sqlalchemy as sa
        names = [unique_name() for _ in range(count)]
        if self.backend != "sqlite":
            engine = self._admin()
            with engine.connect() as conn:
                for n in names:
                    conn.execute(sa.text(f"CREATE DATABASE {n}"))
                    self.created.append(n)
            engine.dispose()
        return {f"cell{i + 1}": self.url(n) for i, n in enumerate(names)}

    def drop_all(self) -> None:
        if not self.created:
            return
        import sqlalchemy as sa
        engine = self._admin()
        with engine.connect() as conn:
            for n in self.created:
                if self.backend == "postgresql":
                    conn.execute(sa.text(
                        f"DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
                else:
                    conn.execute(sa.text(f"DROP DATABASE IF EXISTS {n}"))
        engine.dispose()


CLI = [sys.executable, "-c", "import sys; from cellsched.cli import main; "
       "sys.exit(main())"]


def run_cli(*args, cwd=None, timeout=120, check=True):
    """Run ``cellsched ARGS`` in a subprocess (inherits the mode env)."""
    proc = subprocess.run([*CLI, *map(str, args)], cwd=cwd, timeout=timeout,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"cellsched {' '.join(map(str, args))} exited "
            f"{proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n"
            f"{proc.stderr[-4000:]}")
    return proc


def write_cells(tmp_path, cells: dict) -> str:
    path = tmp_path / "cells.json"
    path.write_text(json.dumps({"cells": cells}))
    return str(path)


class Served:
    """A real ``cellsched serve --workers N`` process group on RabbitMQ."""

    def __init__(self, tmp_path, cells_file, transport_url, workers=2,
                 extra=()):
        self.topic = unique_name("topic")
        self.cells_file = cells_file
        self.transport_url = transport_url
        self.log_path = tmp_path / f"{self.topic}.log"
        self._log = open(self.log_path, "w")
        # Own session: cotyledon signals its whole process group on SIGHUP.
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--cells-file", cells_file, "--workers",
             str(workers), "--transport-url", transport_url, "--topic",
             self.topic, *extra],
            stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.workers = workers

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout=90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count("serving topic") >= self.workers:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"cellsched serve not ready:\n{self.log()}")

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout=60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def rpc_client(transport_url: str, topic: str, timeout: int = 60):
    """A plain oslo.messaging client, as any third party would write it."""
    import oslo_messaging
    from oslo_config import cfg
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=transport_url)
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=topic), timeout=timeout)
    return transport, client


def seeded_cells(dbs, tmp_path, count=3, hosts=20, **seed) -> str:
    cells_file = write_cells(tmp_path, dbs.create(count))
    run_cli("init", "--cells-file", cells_file)
    args = ["seed", "--cells-file", cells_file, "--hosts", hosts]
    for k, v in seed.items():
        args += [f"--{k.replace('_', '-')}", v]
    run_cli(*args)
    return cells_file
