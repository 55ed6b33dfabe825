"""Fixtures that give tests real servers: PostgreSQL, MariaDB, RabbitMQ.

Each test gets its own uniquely named databases, dropped afterwards, so
several runs can share the servers.  A server that is down makes its tests
skip with the reason -- except under CI (``CI=true``), where it is a
failure: a CI run must never go green by skipping the real thing.
"""

from __future__ import annotations

import os
import socket
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


def require_server(name: str) -> None:
    """Fail (CI) or skip (elsewhere) when ``name`` is not reachable."""
    host, port = SERVERS[name]
    if _reachable(host, port):
        return
    msg = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{msg} and CI=true: real-server tests must not skip",
                    pytrace=False)
    pytest.skip(msg)


@pytest.fixture
def rabbit_url():
    require_server("rabbitmq")
    return RABBIT_URL


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
