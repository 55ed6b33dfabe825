"""Fault injection against the real service: ``cellsched serve --workers 2``
on RabbitMQ with MariaDB and PostgreSQL cells, in the session's mode.

Every fault is real: a database that sleeps inside the server, a port with
nothing behind it, SIGKILL and SIGTERM to real processes, RabbitMQ closing
the service's connections.  Each test states the promise it checks and
fails when that promise is broken (see docs/reliability.md for the figures).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from cellsched_testlib import write_cells
from reliability_lib import (BAD_CELLS, FINISHED_RE, PATIENT_TIMEOUT,
                             Background, RabbitVhost, allocations, bad_cell,
                             check, healthy_cells, load, max_abandoned,
                             pool_states, running_queries, selections,
                             wait_for, worker_pids)

# A stuck cell makes the requests that probe it wait the scatter-gather
# timeout again each time its abandoned read ends, so the hung reads last
# long (STATEMENT_TIMEOUT) to keep those windows rare.  No bound here is
# tight: a busy 2-core machine may queue any request for seconds.  A bound
# is what the promise allows plus ALLOWANCE; what breaking the promise
# would cost is far beyond it (a hung read lasts STATEMENT_TIMEOUT).
SG_TIMEOUT = 2.0          # scatter-gather timeout of the service
STATEMENT_TIMEOUT = 15.0  # server-side timeout of a hung cell
ALLOWANCE = 10.0          # what a busy machine may add to a bound
CONCURRENCY = 8
#: Requests with bad cells (CI size; ``make reliability`` runs 500).
BAD_CELL_REQUESTS = int(os.environ.get("CELLSCHED_FAULTS_REQUESTS", "200"))
#: Threading-mode scatter-gather pool of the served workers: offramp's
#: default (5) unless set.  A burst of concurrent requests reaches a hung
#: cell before the first give-up; offramp lets each cell hold only its
#: share of the pool, so even the default pool is never drained
#: (docs/reliability.md, "burst drain").
SG_POOL = os.environ.get("CELLSCHED_FAULTS_SG_POOL")


def test_bad_cells_are_skipped_and_never_drain_the_pool(
        server_dbs, tmp_path, serve, rabbit_url, monkeypatch):
    """One cell of each bad kind (hung in MariaDB, hung in PostgreSQL,
    down, raising, slow) next to two healthy ones, under load: every
    request is answered from the healthy cells; a stuck cell is given up
    at the scatter-gather timeout and then gets no thread until its read
    ends, so no answer waits for a hung read; a stuck cell never holds
    more than the requests that came together (the pool is never
    drained); a hung query ends at the server-side statement timeout and
    gives its thread back; nothing is lost."""
    if SG_POOL:
        monkeypatch.setenv("OFFRAMP_THREADING_POOL_SCATTER_GATHER", SG_POOL)
    healthy = healthy_cells(server_dbs, tmp_path)
    healthy_file = str(tmp_path / "cells.json")
    bad = {kind: bad_cell(kind, server_dbs, STATEMENT_TIMEOUT)
           for kind in BAD_CELLS}
    (tmp_path / "serve").mkdir()
    served = serve(write_cells(tmp_path / "serve", {**healthy, **bad}),
                   extra=["--scatter-gather-timeout", str(SG_TIMEOUT),
                          "--stats-interval", "0.5"])

    # Warm-up: the first connection of each worker to each cell costs
    # more than a read on a busy 2-core machine; it is not the fault.
    warm = load(rabbit_url, served.topic, 4, 1)
    requests = BAD_CELL_REQUESTS
    result = load(rabbit_url, served.topic, requests, CONCURRENCY)

    print(f"\n{requests} requests with {len(bad)} bad cells: "
          f"{result.render()}")
    assert result.outcomes == {"selected": requests}, result.errors[:3]
    assert {c for c, _ in selections(result).values()} <= set(healthy)
    # No answer waits for a hung read to end: the timeout gave it up.
    worst = max(result.latencies_ms) / 1000
    assert worst < STATEMENT_TIMEOUT, f"slowest answer {worst:.2f}s"
    for kind in ("down", "raises"):
        assert f"Cell {kind} failed" in served.log()
    for kind in ("hung-mariadb", "hung-postgresql", "slow"):
        # The hung query is ended by the server (statement timeout), the
        # slow one by itself; either way long before the 3600 s sleep.
        wait_for(lambda: not running_queries(bad[kind]["url"]),
                 bad[kind]["statement_timeout"] + 60,
                 what=f"the query of {kind} to end on the server")
    # Each abandoned task reports back when it ends.
    wait_for(lambda: {m["target"] for m in FINISHED_RE.finditer(served.log())}
             >= {"hung-mariadb", "hung-postgresql", "slow"}, 60,
             what="the abandoned tasks to report back")
    log = served.log()
    for kind in ("hung-mariadb", "hung-postgresql", "slow"):
        # Abandoned, but never more tasks than requests arrived together
        # before the first give-up, never the pool: without the guard
        # every request would abandon one more thread.
        most = max_abandoned(log, kind)
        assert 1 <= most <= CONCURRENCY, (kind, most)
        # The gate: while its abandoned read runs, a stuck cell is answered
        # DID_NOT_RESPOND at once and gets no thread.
        assert f"Target {kind} still has" in log
        finished = [float(m["after"]) for m in FINISHED_RE.finditer(log)
                    if m["target"] == kind]
        # Back after the statement timeout (or the slow read) at the
        # latest, plus what a busy machine adds; not after 3600 s.
        assert max(finished) < bad[kind]["statement_timeout"] + ALLOWANCE
        print(f"{kind}: at most {most} abandoned per worker, back "
              f"{min(finished):.1f}-{max(finished):.1f}s after give-up")
    for kind in ("down", "raises"):
        # A failing cell normally fails before the timeout and holds no
        # thread; on a stalled machine it may be given up first, but it
        # never holds more than a stuck cell may.
        assert max_abandoned(log, kind) <= CONCURRENCY, kind
    assert served.stop() == 0
    # Final statistics at stop: every worker of the pool is idle again.
    final = {s["pid"]: s for s in pool_states(served.log())}
    assert len(final) == 2
    for state in final.values():
        assert state["idle"] == state["max"] and state["queued"] == 0, state
    # Nothing lost: every answer is an allocation and vice versa.
    assert check(healthy_file)["ok"]
    assert allocations(healthy_file) == {**selections(warm),
                                         **selections(result)}


RPC_TIMEOUT = 10   # client-side bound: a lost request costs this, no more


def _service(server_dbs, tmp_path, serve, extra=()):
    healthy_cells(server_dbs, tmp_path)
    cells_file = str(tmp_path / "cells.json")
    return cells_file, serve(cells_file, extra=["--stats-interval", "0",
                                                *extra])


def _bounded(result,
             allowed=("selected", "NoValidHost", "Timeout", "NotSent")):
    """Every call ended, with an allowed outcome, within the RPC timeout
    (plus what a busy machine adds): never a hang."""
    assert set(result.outcomes) <= set(allowed), (result.outcomes,
                                                  result.errors[:3])
    worst = max(result.latencies_ms) / 1000
    assert worst < RPC_TIMEOUT + ALLOWANCE, f"a call took {worst:.1f}s"


def test_kill_9_worker_under_load_is_respawned_errors_bounded(
        server_dbs, tmp_path, serve, rabbit_url):
    """SIGKILL one of the two workers mid-load: the parent respawns it;
    only requests already sent at the kill may be lost, and they end as
    client timeouts (bounded, never a hang); every request sent after it
    is answered; the books still balance, and the new worker serves."""
    cells_file, served = _service(server_dbs, tmp_path, serve)
    before = worker_pids(served.log())
    answered, sent, patient = [], [], threading.Event()
    bg = Background(rabbit_url, served.topic, 600, CONCURRENCY,
                    timeout=RPC_TIMEOUT, answered_at=answered, sent=sent,
                    patient=patient)
    wait_for(lambda: len(answered) >= 100, 60, what="load to get going")
    os.kill(before[0], signal.SIGKILL)
    killed_at = time.monotonic()
    # From now on the kill cannot lose a request, so a call sent now may
    # wait as long as a busy machine needs: it must be answered.
    patient.set()
    wait_for(lambda: len(worker_pids(served.log())) == 3, 60,
             what="the killed worker to be respawned")
    respawned = time.monotonic() - killed_at
    result = bg.join(300)
    assert set(result.outcomes) <= {"selected", "Timeout"}, (
        result.outcomes, result.errors[:3])
    assert sum(result.outcomes.values()) == len(sent) == 600
    lost = result.outcomes["Timeout"]
    print(f"\nrespawned in {respawned:.1f}s; {result.render()}")
    # Lost: only requests in flight at the kill, one per client at most,
    # and each ends at the client's timeout, never hangs.
    in_flight = [outcome for at, _, outcome in sent if at < killed_at]
    assert lost == in_flight.count("Timeout") <= CONCURRENCY
    assert all(outcome == "selected" for at, _, outcome in sent
               if at >= killed_at)
    assert all(end - at < RPC_TIMEOUT + ALLOWANCE
               for at, end, outcome in sent if outcome == "Timeout")
    # A killed claim is rolled back by its database; a claim made but not
    # answered is possible (the reply died with the worker): only for
    # requests the client saw time out.
    books = allocations(cells_file)
    answered_sel = selections(result)
    assert answered_sel.items() <= books.items()
    assert len(books) - len(answered_sel) <= lost
    assert check(cells_file)["ok"]
    new = load(rabbit_url, served.topic, 40, 4, timeout=PATIENT_TIMEOUT)
    assert new.outcomes == {"selected": 40}
    assert served.proc.poll() is None and served.stop() == 0
    # Both the survivor and the respawned worker drained at stop.
    assert served.log().count("drained") == 2


def test_sigterm_under_load_finishes_in_flight_and_exits_0(
        server_dbs, tmp_path, serve, rabbit_url):
    """SIGTERM while 8 clients keep sending: the requests the workers had
    taken are answered (every allocation was answered), and the service
    exits 0 within oslo.service's graceful_shutdown_timeout."""
    graceful = 20
    conf = tmp_path / "graceful.conf"
    conf.write_text(f"[DEFAULT]\ngraceful_shutdown_timeout = {graceful}\n")
    cells_file, served = _service(server_dbs, tmp_path, serve,
                                  ["--config-file", str(conf)])
    stop, answered = threading.Event(), []
    bg = Background(rabbit_url, served.topic, 100000, CONCURRENCY,
                    timeout=RPC_TIMEOUT, stop=stop, answered_at=answered)
    try:
        wait_for(lambda: len(answered) >= 150, 60, what="load to get going")
        served.signal(signal.SIGTERM)
        sent_at = time.monotonic()
        rc = served.proc.wait(graceful + 10)
        exit_s = time.monotonic() - sent_at
    finally:
        stop.set()
    result = bg.join(RPC_TIMEOUT * 3)
    _bounded(result)
    after = sum(1 for t in answered if t > sent_at)
    print(f"\nexit {rc} {exit_s:.2f}s after SIGTERM; {after} answered after "
          f"it; {dict(result.outcomes)}")
    assert rc == 0 and exit_s < graceful
    assert served.log().count("drained") == 2
    # In flight at SIGTERM = answered: no claim without its answer.
    assert allocations(cells_file) == selections(result)
    assert check(cells_file)["ok"]


def test_rabbitmq_connections_dropped_under_load_service_recovers(
        server_dbs, tmp_path, serve):
    """RabbitMQ closes every connection of the service (and of its
    clients) mid-load: the same worker processes reconnect and answer
    again, without a restart; failures in between are bounded."""
    vhost = RabbitVhost()
    try:
        cells_file, served = _service(server_dbs, tmp_path, serve,
                                      ["--transport-url", vhost.url])
        before = worker_pids(served.log())
        stop, answered = threading.Event(), []
        bg = Background(vhost.url, served.topic, 100000, CONCURRENCY,
                        timeout=RPC_TIMEOUT, stop=stop,
                        answered_at=answered)
        try:
            wait_for(lambda: len(answered) >= 100, 60,
                     what="load to get going")
            assert vhost.connections() >= 3
            vhost.drop_connections()
            dropped_at = time.monotonic()
            wait_for(lambda: sum(t > dropped_at + 1 for t in answered)
                     >= 50, 60, what="answers after the drop")
            recovered = min(t for t in answered if t > dropped_at + 1) \
                - dropped_at
        finally:
            stop.set()
        result = bg.join(RPC_TIMEOUT * 3)
        print(f"\nfirst answer {recovered:.1f}s after the drop; "
              f"{dict(result.outcomes)}")
        failed = sum(n for k, n in result.outcomes.items()
                     if k not in ("selected", "NoValidHost", "NotSent"))
        assert failed <= 2 * CONCURRENCY, result.outcomes
        worst = max(result.latencies_ms) / 1000
        assert worst < RPC_TIMEOUT + ALLOWANCE
        # No restart: the same two workers, still running, reconnected.
        assert worker_pids(served.log()) == before
        assert all(psutil_alive(p) for p in before)
        assert vhost.connections() >= 2
        books, answered_sel = allocations(cells_file), selections(result)
        assert answered_sel.items() <= books.items()
        assert check(cells_file)["ok"]
        assert served.stop() == 0
    finally:
        vhost.delete()


def psutil_alive(pid) -> bool:
    import psutil
    return psutil.pid_exists(pid) and \
        psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
