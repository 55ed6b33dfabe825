"""The cell map: which databases exist, and how to talk to each safely.

A cell is one database.  The scheduler reads every cell on every request
and writes claims into them, so a slow or dead cell must not be able to
hold a scheduler thread forever: a running thread cannot be killed, so every
bound lives inside the database call itself (connect timeout, client read
timeout, server-side statement timeout), configured per cell.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

LOG = logging.getLogger(__name__)

#: Driver names we accept in URLs, and what bare dialect names map to.
SUPPORTED_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mariadb+pymysql": "mysql+pymysql",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
ACCEPTED_URLS = ("sqlite:///PATH, mysql+pymysql://USER:PASS@HOST/DB, "
                 "postgresql+psycopg://USER@HOST/DB")

CELL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_STATEMENT_TIMEOUT = 10.0
#: A pooled server connection idle for longer than this is pinged before
#: use; see _ping_when_idle().
PING_WHEN_IDLE_FOR = 5.0


class CellConfigError(ValueError):
    """A cells file or cell URL that cannot be used; the message says why."""


def _blank_credentials(text: str) -> str:
    """A URL that did not parse cleanly, with everything between ``://``
    and its last ``@`` hidden: a password may itself hold '@', ':' or '/',
    so no earlier '@' can be trusted to end it."""
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _hide_query_secrets(url: URL) -> URL:
    hidden = {k: "***" for k in url.query if "password" in k.lower()}
    return url.update_query_dict(hidden) if hidden else url


def _misplaced_at(text: str, url: URL) -> bool:
    """True when an '@' of ``text`` did not end up between the user name
    and the host: then part of a password is in the host, port or
    database, and rendering the URL would show it."""
    if text.partition("?")[0].count("@") > 1:
        return True
    return "@" in (url.host or "") or "@" in (url.database or "") or (
        "@" in text.partition("?")[0] and url.username is None)


def mask_url(url: str | URL) -> str:
    """Render a URL for logs and errors, with the password shown as ***.

    A string that does not parse, or whose '@' could belong to a password,
    is shown only from its last '@' on."""
    if isinstance(url, URL):
        return _hide_query_secrets(url).render_as_string(hide_password=True)
    text = str(url)
    try:
        parsed = make_url(text)
    except Exception:  # whatever the parser raises, show nothing secret
        return _blank_credentials(text)
    if _misplaced_at(text, parsed):
        return _blank_credentials(text)
    return mask_url(parsed)


#: Appended to every URL error that can come from a special character in
#: the user name or password.
_ENCODE_HINT = ("if the user name or password contains '@', ':' or '/', "
                "write them percent-encoded (%40, %3A, %2F)")


def parse_url(raw: str, cell: str = "?") -> URL:
    """Parse and normalise a cell URL, naming what is accepted on failure.

    Never puts the password into a message: SQLAlchemy's own errors quote
    parts of the URL (an unescaped '@' in a password turns the rest of it
    into the "port"), so they are replaced, not passed on.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise CellConfigError(
            f"cell {cell!r}: database URL must be a non-empty string "
            f"(accepted: {ACCEPTED_URLS})")
    raw = raw.strip()
    shown = mask_url(raw)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise CellConfigError(
            f"cell {cell!r}: cannot parse database URL {shown!r} "
            f"(accepted: {ACCEPTED_URLS})") from None
    except ValueError:  # int() of the port
        raise CellConfigError(
            f"cell {cell!r}: the port of database URL {shown!r} is not a "
            f"number; {_ENCODE_HINT}") from None
    if _misplaced_at(raw, url):
        raise CellConfigError(
            f"cell {cell!r}: database URL {shown!r} has an '@' outside the "
            f"user name and password; {_ENCODE_HINT}")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise CellConfigError(
            f"cell {cell!r}: port {url.port} of database URL {shown!r} is "
            f"not between 1 and 65535")
    driver = SUPPORTED_DRIVERS.get(url.drivername)
    if driver is None:
        raise CellConfigError(
            f"cell {cell!r}: unsupported database driver {url.drivername!r} "
            f"in {mask_url(url)!r}; accepted drivers: "
            f"{', '.join(sorted(SUPPORTED_DRIVERS))}")
    url = url.set(drivername=driver)
    if driver != "sqlite" and not url.database:
        raise CellConfigError(
            f"cell {cell!r}: URL {mask_url(url)!r} names no database "
            f"(accepted: {ACCEPTED_URLS})")
    return url


def _positive(value: Any, what: str, cell: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or value <= 0:
        raise CellConfigError(
            f"cell {cell!r}: {what} must be a positive number of seconds, "
            f"got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell: its name, its database URL and its timeouts (seconds)."""

    name: str
    url: URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def __str__(self) -> str:  # never leak the password through %s
        return f"{self.name}({self.masked_url})"

    __repr__ = __str__


_TIMEOUT_KEYS = ("connect_timeout", "read_timeout", "statement_timeout")


def cell_from_entry(name: str, entry: Any, defaults: dict | None = None
                    ) -> Cell:
    """Build a Cell from a cells-file entry: a URL string or an object."""
    if not isinstance(name, str) or not CELL_NAME_RE.match(name):
        raise CellConfigError(
            f"cell name {name!r} is invalid: use 1-63 letters, digits, "
            f"'_', '.' or '-', starting with a letter or digit")
    defaults = dict(defaults or {})
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict):
        raise CellConfigError(
            f"cell {name!r}: expected a URL string or an object with "
            f"'url' and optional {', '.join(_TIMEOUT_KEYS)}; "
            f"got {type(entry).__name__}")
    unknown = set(entry) - {"url", *_TIMEOUT_KEYS}
    if unknown:
        raise CellConfigError(
            f"cell {name!r}: unknown keys {sorted(unknown)}; accepted: "
            f"url, {', '.join(_TIMEOUT_KEYS)}")
    if "url" not in entry:
        raise CellConfigError(f"cell {name!r}: missing 'url'")
    timeouts = {k: _positive(entry.get(k, defaults.get(k, d)), k, name)
                for k, d in zip(_TIMEOUT_KEYS,
                                (DEFAULT_CONNECT_TIMEOUT,
                                 DEFAULT_READ_TIMEOUT,
                                 DEFAULT_STATEMENT_TIMEOUT))}
    cell = Cell(name=name, url=parse_url(entry["url"], name), **timeouts)
    check_driver_args(cell)
    return cell


def load_cells_file(path: str, defaults: dict | None = None) -> list[Cell]:
    """Read a cells file: JSON ``{"cells": {name: url-or-object}}``.

    A bare ``{name: url}`` mapping is accepted too.  Every problem is reported
    with the file name and the offending value.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise CellConfigError(
            f"cells file {path!r} does not exist (run 'cellsched init' or "
            f"pass --cells-file)") from None
    except OSError as exc:  # a directory, no permission, an I/O error
        raise CellConfigError(
            f"cells file {path!r} cannot be read ({exc.strerror or exc}); "
            f"expected a JSON file like "
            f'{{"cells": {{"NAME": "URL", ...}}}}') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CellConfigError(
            f"cells file {path!r} is not valid JSON ({exc}); expected "
            f'{{"cells": {{"NAME": "URL", ...}}}}') from None
    if isinstance(data, dict) and "cells" in data:
        data = data["cells"]
    if not isinstance(data, dict) or not data:
        raise CellConfigError(
            f"cells file {path!r} must map cell names to URLs, e.g. "
            f'{{"cells": {{"cell1": "sqlite:///cell1.db"}}}}; got '
            f"{type(data).__name__ if data else 'nothing'}")
    try:
        return [cell_from_entry(name, entry, defaults)
                for name, entry in data.items()]
    except CellConfigError as exc:
        raise CellConfigError(f"cells file {path!r}: {exc}") from None


def write_cells_file(path: str, cells: dict[str, str]) -> None:
    """Write a cells file (used by ``init`` for the embedded SQLite cells)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"cells": cells}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def mark_scratch_dir(path: str) -> None:
    """Make a data directory ignore itself in git, so running the demo or
    ``init`` inside a clone leaves ``git status`` clean."""
    os.makedirs(path, exist_ok=True)
    marker = os.path.join(path, ".gitignore")
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8") as f:
            f.write("# cellsched data, not source\n*\n")


def sqlite_cells(data_dir: str, count: int) -> dict[str, str]:
    """The embedded default: ``count`` SQLite files under ``data_dir``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise CellConfigError(
            f"number of cells must be a positive integer, got {count!r}")
    data_dir = os.path.abspath(data_dir)
    return {f"cell{i}": f"sqlite:///{os.path.join(data_dir, f'cell{i}.db')}"
            for i in range(1, count + 1)}


def _sqlite_pragmas(dbapi_conn, _record):
    # WAL lets readers (host-state scans) proceed during a claim, and lets
    # several worker processes share one file.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# One writer lock per SQLite engine; see write_transaction().
_sqlite_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine):
    """``engine.begin()``, but one writer at a time per SQLite file in this
    process.

    SQLite admits a single writer. A second one gets SQLITE_BUSY and its
    busy handler polls with sleeps of 1 ms growing to 100 ms, so under
    native threads concurrent claims on one cell took 14 ms at the median
    and 44 ms at p90 instead of 1 ms. Waiting on a lock instead wakes the
    next writer as soon as the first commits. Server databases take their
    own row locks and need none of this.
    """
    lock = _sqlite_writers.get(engine)
    with lock if lock is not None else contextlib.nullcontext():
        with engine.begin() as conn:
            yield conn


def _ping_when_idle(engine: sa.Engine, idle_for: float) -> None:
    """Ping a pooled connection at checkout only if it sat idle.

    ``pool_pre_ping`` pings on every checkout: 4 of the 17 round trips of
    a request on MariaDB (the pool's reset after commit was a fifth; see
    create_engine). Under native threads each round trip is a thread that
    sleeps and must be woken. Idle connections are the ones a server restart or
    ``wait_timeout`` kills, so they still get a ping; a connection used in
    the last few seconds is trusted. If the server went away in that
    window, the statement fails, SQLAlchemy invalidates the pool, and the
    scheduler treats it like any failed read or claim.
    """
    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since <= idle_for:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:  # any failure means: not usable
            alive = False
        if not alive:
            # The pool replaces the connection and tries again.
            raise sa.exc.DisconnectionError("idle connection failed a ping")


def _engine_kwargs(cell: Cell, pool_size: int = 10,
                   max_overflow: int = 20) -> dict[str, Any]:
    """``create_engine`` keywords for ``cell``: pool and driver timeouts.

    * MariaDB (PyMySQL): ``connect_timeout``, ``read_timeout`` and
      ``write_timeout`` on the socket, ``max_statement_time`` on the server.
    * PostgreSQL (psycopg): libpq ``connect_timeout``; the read timeout
      becomes ``tcp_user_timeout`` plus TCP keepalives (libpq has no plain
      read timeout); ``statement_timeout`` on the server.
    * SQLite: the read timeout is the lock (busy) timeout; there is no
      network and no server-side statement timeout.
    """
    backend = cell.url.get_backend_name()
    # Server connections are pinged only when idle (_ping_when_idle); a
    # SQLite file has no connection to lose. No reset on return: a Core
    # Connection ends its own transaction when it closes, so the pool's
    # rollback would only repeat it after every commit.
    kwargs: dict[str, Any] = {"pool_reset_on_return": None}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": cell.read_timeout}
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                      poolclass=sa.pool.QueuePool)
    elif backend == "mysql":
        kwargs["connect_args"] = {
            "connect_timeout": max(1, round(cell.connect_timeout)),
            "read_timeout": max(1, round(cell.read_timeout)),
            "write_timeout": max(1, round(cell.read_timeout)),
            "init_command": "SET SESSION max_statement_time=%g"
                            % cell.statement_timeout,
        }
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                      pool_recycle=3600, pool_timeout=cell.connect_timeout
                      + cell.read_timeout)
    elif backend == "postgresql":
        kwargs["connect_args"] = {
            # libpq rounds and treats 1 as 2; keep what was asked for.
            "connect_timeout": max(2, round(cell.connect_timeout)),
            "options": "-c statement_timeout=%d"
                       % round(cell.statement_timeout * 1000),
            "tcp_user_timeout": round(cell.read_timeout * 1000),
            "keepalives": 1,
            "keepalives_idle": max(1, round(cell.read_timeout / 3)),
            "keepalives_interval": max(1, round(cell.read_timeout / 6)),
            "keepalives_count": 3,
        }
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow,
                      pool_timeout=cell.connect_timeout + cell.read_timeout)
    return kwargs


def create_engine(cell: Cell, pool_size: int = 10,
                  max_overflow: int = 20) -> sa.Engine:
    """An engine for ``cell`` with every timeout pushed into the driver
    (see _engine_kwargs)."""
    engine = sa.create_engine(cell.url, **_engine_kwargs(
        cell, pool_size, max_overflow))
    if cell.url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _sqlite_writers[engine] = threading.Lock()
    else:
        _ping_when_idle(engine, PING_WHEN_IDLE_FOR)
    return engine


def _dry_run_pymysql(params: dict) -> str | None:
    """What PyMySQL would refuse in ``params``, found without connecting."""
    import pymysql
    from pymysql.charset import charset_by_name
    charset = params.get("charset")
    if charset is not None and charset_by_name(charset) is None:
        # PyMySQL itself fails with "'NoneType' object has no attribute
        # 'encoding'".
        return (f"unknown charset {charset!r} (accepted: a MariaDB/MySQL "
                f"character set such as utf8mb4)")
    pymysql.connections.Connection(**params, defer_connect=True)
    return None


def _dry_run_psycopg(params: dict) -> str | None:
    """What libpq would refuse in ``params``: unknown option names.  Values
    (sslmode=bogus) are only judged at connect time, as a database error."""
    import inspect

    import psycopg
    from psycopg.conninfo import make_conninfo
    python_side = set(inspect.signature(psycopg.Connection.connect)
                      .parameters)
    make_conninfo("", **{k: v for k, v in params.items()
                         if k not in python_side})
    return None


def check_driver_args(cell: Cell) -> None:
    """Let the driver judge the URL's query parameters now, without
    connecting, so that ``?charset=nonexistent`` or ``?foo=1`` is a clear
    configuration error naming the cell instead of a traceback inside
    ``init`` or a worker."""
    try:
        kwargs = _engine_kwargs(cell)
        engine = sa.create_engine(cell.url, **kwargs)
        try:
            _, params = engine.dialect.create_connect_args(engine.url)
        finally:
            engine.dispose()
        params.update(kwargs.get("connect_args", {}))
        backend = cell.url.get_backend_name()
        problem = (_dry_run_pymysql(params) if backend == "mysql"
                   else _dry_run_psycopg(params) if backend == "postgresql"
                   else None)
    except Exception as exc:  # the drivers raise TypeError, AttributeError..
        problem = f"{type(exc).__name__}: {str(exc).strip()}"
    if problem is None:
        return
    if cell.url.password:
        problem = problem.replace(cell.url.password, "***")
    params = ", ".join(sorted(cell.url.query)) or "none"
    raise CellConfigError(
        f"cell {cell.name!r}: the {cell.url.drivername} driver does not "
        f"accept the URL {cell.masked_url!r} (URL parameters: {params}): "
        f"{problem[:300]}")


class CellEngines:
    """Engines per cell, created lazily in the process that uses them.

    Engines hold sockets, so they must be created after the worker fork;
    this registry is built in the parent and only fills itself in children
    (``Scheduler.connect`` opens the first ones there, before serving).
    """

    def __init__(self, cells: list[Cell]):
        self.cells = {c.name: c for c in cells}
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> sa.Engine:
        engine = self._engines.get(name)
        if engine is None:
            with self._lock:
                engine = self._engines.get(name)
                if engine is None:
                    engine = create_engine(self.cells[name])
                    self._engines[name] = engine
        return engine

    def open_connections(self, name: str, count: int) -> int:
        """Open ``count`` connections to one cell at once and hand them to
        its pool; the first one also runs the dialect's initialisation."""
        opened = []
        try:
            for _ in range(count):
                opened.append(self[name].connect())
        finally:
            for conn in opened:
                conn.close()
        return len(opened)

    def dispose(self) -> None:
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.dispose()
