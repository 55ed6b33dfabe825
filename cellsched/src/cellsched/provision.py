"""Creating a cell's database: ``cellsched init --create-database``.

``init`` creates the tables, not the database that holds them: on MariaDB
and PostgreSQL that needs a privilege a service account usually lacks, so
it is asked for explicitly.  Without it a missing database is reported as
such (exit 3), with the command that creates it.
"""

from __future__ import annotations

import dataclasses
import os

import sqlalchemy as sa

from cellsched.cells import Cell, create_engine


class DatabaseMissing(Exception):
    """The server is reachable but the cell's database does not exist."""


def _admin_cell(cell: Cell) -> Cell:
    """The same server, user and timeouts, connected to a database that
    always exists: none on MariaDB, ``postgres`` on PostgreSQL."""
    backend = cell.url.get_backend_name()
    database = "postgres" if backend == "postgresql" else None
    # URL.set() ignores None; _replace is namedtuple's, documented for this.
    return dataclasses.replace(cell, url=cell.url._replace(database=database))


def _exists(conn: sa.Connection, backend: str, name: str) -> bool:
    if backend == "postgresql":
        query = "SELECT 1 FROM pg_database WHERE datname = :name"
    else:
        query = ("SELECT 1 FROM information_schema.SCHEMATA "
                 "WHERE SCHEMA_NAME = :name")
    return conn.execute(sa.text(query), {"name": name}).first() is not None


def create_database(cell: Cell) -> bool:
    """Create the cell's database if it is missing; True if it was made.

    SQLite: the file's directory (the file comes with the schema).
    """
    backend = cell.url.get_backend_name()
    name = cell.url.database
    if backend == "sqlite":
        if name and name != ":memory:":
            directory = os.path.dirname(os.path.abspath(name))
            made = not os.path.isdir(directory)
            os.makedirs(directory, exist_ok=True)
            return made and not os.path.exists(name)
        return False
    engine = create_engine(_admin_cell(cell), pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if _exists(conn, backend, name):
                return False
            quoted = engine.dialect.identifier_preparer.quote_identifier(
                name)
            try:
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
            except sa.exc.DBAPIError:
                if _exists(conn, backend, name):  # created meanwhile
                    return False
                raise
            return True
    finally:
        engine.dispose()


def check_database_exists(cell: Cell) -> None:
    """Raise DatabaseMissing if the server says the cell's database does
    not exist; do nothing if it exists or the server cannot be asked (the
    caller's own error then stands)."""
    backend = cell.url.get_backend_name()
    if backend == "sqlite":
        return
    engine = create_engine(_admin_cell(cell), pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            missing = not _exists(conn, backend, cell.url.database)
    except sa.exc.SQLAlchemyError:
        return
    finally:
        engine.dispose()
    if missing:
        raise DatabaseMissing(
            f"cell {cell.name!r}: database {cell.url.database!r} does not "
            f"exist on {cell.url.host or 'localhost'}"
            f"{f':{cell.url.port}' if cell.url.port else ''}; create it, or "
            f"run 'cellsched init --create-database' with a user allowed "
            f"to create databases")
