"""cellsched serve's start and stop, timed from outside, in both modes.

    python bench/bench_start_stop.py [--rounds 5] [--modes threading,eventlet]
    python bench/bench_start_stop.py --also-run OLD/cellsched/src:OLD/src

Needs the local RabbitMQ, MariaDB and PostgreSQL (the tests' servers). It
makes three cells (two MariaDB databases, one PostgreSQL database, dropped
at the end) and, for each mode and round, runs ``cellsched serve --workers
2`` two ways, one after the other: connecting to the cells before serving
(the default, ``warm_connections = 2``) and connecting on first use
(``--warm-connections 0``, how every worker started before). For each it
prints:

* first: the first ``select_destinations`` a worker answers after the
  start (sent to that worker's own queue).  A call of an unknown method
  goes first, so the client and the RPC path are warm and only the
  database side differs;
* steady: the median of its next 20 requests, one at a time;
* respawn first: the first request of the worker that replaced it after a
  kill -9, after the same unknown-method call;
* burst: 10 requests at once to the just-started workers: the slowest,
  and how many did not get a selection;
* idle SIGTERM: from SIGTERM to the exit of the service, idle for 2 s.

Figures are medians over the rounds, with the largest in brackets; the load
average is printed before and after, since other work on the machine moves
all of them.  Every way runs in every round, one after the other, so they
share the load.  ``--also-run PYTHONPATH`` adds a third way: the service
from another checkout (e.g. an older one), started with its defaults.
Without the local servers the script says so and exits 0.
"""

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import offramp

offramp.bootstrap()

import oslo_messaging  # noqa: E402  (after bootstrap, as in every entry point)
import sqlalchemy as sa  # noqa: E402
from oslo_config import cfg  # noqa: E402

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
ADMIN = {"mariadb": ("mysql+pymysql://root:@127.0.0.1:3306/test",
                     "mysql+pymysql://root:@127.0.0.1:3306/{}"),
         "postgresql": ("postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/{}")}
CLI = [sys.executable, "-c", "import sys; from cellsched.cli import main; "
       "sys.exit(main())"]
FLAVOR = {"vcpus": 1, "memory_mb": 512, "disk_gb": 10}
WORKERS = 2
#: way -> (serve arguments, environment)
WAYS = {"connect before serving": ([], {}),
        "connect on first use": (["--warm-connections", "0"], {})}
SERVERS = {"RabbitMQ": 5672, "MariaDB": 3306, "PostgreSQL": 5432}


@contextlib.contextmanager
def cell_databases():
    names = {"m1": ("mariadb", f"bench_ss_{os.getpid()}_m1"),
             "m2": ("mariadb", f"bench_ss_{os.getpid()}_m2"),
             "p1": ("postgresql", f"bench_ss_{os.getpid()}_p1")}

    def each(statement):
        for backend, name in names.values():
            engine = sa.create_engine(ADMIN[backend][0],
                                      isolation_level="AUTOCOMMIT",
                                      poolclass=sa.pool.NullPool)
            with engine.connect() as conn:
                conn.execute(sa.text(statement.format(name)))
            engine.dispose()

    each("DROP DATABASE IF EXISTS {}")
    each("CREATE DATABASE {}")
    try:
        yield {cell: ADMIN[backend][1].format(name)
               for cell, (backend, name) in names.items()}
    finally:
        each("DROP DATABASE IF EXISTS {}")


class Service:
    """One ``cellsched serve --workers 2`` in its own session."""

    def __init__(self, cells_file, mode, extra, env):
        self.topic = f"bench_ss_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.log_file = tempfile.NamedTemporaryFile(
            "w+", prefix="bench-ss-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--cells-file", cells_file, "--workers",
             str(WORKERS),
             "--transport-url", RABBIT, "--topic", self.topic,
             "--stats-interval", "0", *extra],
            stdout=self.log_file, stderr=subprocess.STDOUT,
            env={**env, "OFFRAMP_CONCURRENCY": mode},
            start_new_session=True)

    def log(self) -> str:
        with open(self.log_file.name, encoding="utf-8") as f:
            return f.read()

    def pids(self) -> list[int]:
        return [int(p) for p in re.findall(
            r"cellsched worker (\d+) serving topic", self.log())]

    def wait_for_workers(self, count, timeout=60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.pids()) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise SystemExit(f"cellsched serve did not start:\n"
                                 f"{self.log()[-3000:]}")
            time.sleep(0.02)

    def stop(self) -> float:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        took = time.monotonic() - start
        if rc != 0:
            raise SystemExit(f"cellsched serve exited {rc}:\n"
                             f"{self.log()[-3000:]}")
        return took

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        os.unlink(self.log_file.name)


class Client:
    """A plain oslo.messaging client; with ``pid``, of that worker alone
    (its server name is host-pid)."""

    def __init__(self, topic, pid=None):
        self.transport = oslo_messaging.get_rpc_transport(cfg.CONF,
                                                          url=RABBIT)
        server = None if pid is None else f"{socket.gethostname()}-{pid}"
        self.client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic, server=server),
            timeout=60)

    def warm_rpc_path(self) -> None:
        with contextlib.suppress(oslo_messaging.RemoteError):
            self.client.call({}, "no_such_method")

    def request_ms(self) -> tuple[float, str]:
        start = time.perf_counter()
        try:
            self.client.call({}, "select_destinations",
                             request_spec={"flavor": FLAVOR})
            outcome = "selected"
        except oslo_messaging.RemoteError as exc:
            outcome = exc.exc_type
        return (time.perf_counter() - start) * 1000, outcome

    def close(self) -> None:
        self.transport.cleanup()


def missing_servers() -> list[str]:
    missing = []
    for name, port in SERVERS.items():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            missing.append(f"{name} (127.0.0.1:{port})")
    return missing


def one_round(cells_file, mode, extra, env) -> dict:
    out = {}
    service = Service(cells_file, mode, extra, env)
    try:
        service.wait_for_workers(WORKERS)
        client = Client(service.topic, service.pids()[0])
        try:
            client.warm_rpc_path()
            out["first"] = client.request_ms()[0]
            out["steady"] = statistics.median(
                client.request_ms()[0] for _ in range(20))
        finally:
            client.close()
        os.kill(service.pids()[0], signal.SIGKILL)
        service.wait_for_workers(WORKERS + 1)
        client = Client(service.topic, service.pids()[-1])
        try:
            client.warm_rpc_path()
            out["respawn first"] = client.request_ms()[0]
        finally:
            client.close()
        time.sleep(2.0)  # idle
        out["idle SIGTERM"] = service.stop() * 1000
    finally:
        service.close()

    service = Service(cells_file, mode, extra, env)
    try:
        service.wait_for_workers(WORKERS)
        client = Client(service.topic)
        try:
            for _ in range(WORKERS):   # round robin: each worker once
                client.warm_rpc_path()
            results = []
            threads = [threading.Thread(
                target=lambda: results.append(client.request_ms()))
                for _ in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            client.close()
        out["burst slowest"] = max(ms for ms, _ in results)
        out["burst failed"] = sum(o != "selected" for _, o in results)
        service.stop()
    finally:
        service.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--modes", default="threading,eventlet")
    p.add_argument("--also-run", metavar="PYTHONPATH",
                   help="also time the service of another checkout, e.g. "
                        "OLD/cellsched/src:OLD/src")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    missing = missing_servers()
    if missing:
        print(f"skipped: needs {', '.join(missing)}")
        return 0
    ways = dict(WAYS)
    if args.also_run:
        ways["--also-run checkout"] = ([], {"PYTHONPATH": args.also_run})
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load_before = os.getloadavg()
    figures = {(m, w): [] for m in modes for w in ways}
    with cell_databases() as urls, \
            tempfile.TemporaryDirectory(prefix="bench-ss-") as tmp:
        cells_file = os.path.join(tmp, "cells.json")
        with open(cells_file, "w", encoding="utf-8") as f:
            json.dump({"cells": urls}, f)
        for command in (["init"], ["seed", "--hosts", "10", "--vcpus", "500",
                                   "--memory-mb", "256000", "--disk-gb",
                                   "5000"]):
            subprocess.run([*CLI, *command, "--cells-file", cells_file],
                           check=True, capture_output=True)
        for r in range(args.rounds):
            for mode in modes:            # interleaved: same load for all
                for way, (extra, env) in ways.items():
                    figures[mode, way].append(one_round(
                        cells_file, mode, extra, {**os.environ, **env}))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    load_after = os.getloadavg()
    if args.json:
        print(json.dumps({f"{m} / {w}": v for (m, w), v in figures.items()},
                         indent=1))
    keys = ["first", "steady", "respawn first", "burst slowest",
            "idle SIGTERM"]
    print(f"cellsched serve --workers {WORKERS}, 3 cells (2 MariaDB, 1 "
          f"PostgreSQL), {args.rounds} rounds; load average before "
          f"{load_before[0]:.1f}, after {load_after[0]:.1f}")
    print(f"{'mode':10} {'start':24} "
          + " ".join(f"{k:>17}" for k in keys) + "  burst failed")
    for (mode, way), rounds in figures.items():
        cells = []
        for k in keys:
            values = [r[k] for r in rounds]
            cells.append(f"{statistics.median(values):7.0f} "
                         f"({max(values):5.0f})")
        failed = sum(r["burst failed"] for r in rounds)
        print(f"{mode:10} {way:24} " + " ".join(f"{c:>17}" for c in cells)
              + f"  {failed} of {10 * len(rounds)}")
    print("milliseconds: median over the rounds (largest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
