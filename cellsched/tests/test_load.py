"""Load: many requests from 32 concurrent clients against the real
``cellsched serve --workers 2`` (RabbitMQ, a MariaDB and a PostgreSQL cell).

``make test`` runs a CI size of 2,000 requests per mode: enough for every
pool to reach its bound many times over, so a thread or a task per request
would show.  ``CELLSCHED_LOAD_REQUESTS`` changes the count; ``make soak``
runs only this test, 10,000 per mode.  The capacity is a little under the
requests, so the run also fights over the last free hosts.
"""

from __future__ import annotations

import os
import signal

import psutil

from reliability_lib import (allocations, check, healthy_cells, load,
                             pool_states, selections, worker_pids)

REQUESTS = int(os.environ.get("CELLSCHED_LOAD_REQUESTS", "2000"))
WARMUP = 200
#: Threads a worker may still add after the warm-up: its pools grow up to
#: their bounds (oslo.messaging's executor holds up to 64) with the peaks of
#: concurrency.  A thread per request would add thousands.
THREAD_GROWTH = 64
CLIENTS = 32
#: 2 cells x 30 hosts, room for 96% of the requests (10,000: 160 vCPUs a
#: host, 9,600 instances for 10,200 requests with the warm-up).
HOSTS = 30
VCPUS = REQUESTS * 96 // 100 // (2 * HOSTS)


def _threads(pids) -> int:
    return sum(psutil.Process(p).num_threads() for p in pids)


def test_load_32_clients_every_request_answered_books_balance(
        server_dbs, tmp_path, serve, rabbit_url, offramp_no_leaks):
    """Every request gets an answer (a selection or NoValidHost, nothing
    else), no node is over-committed, the allocations are exactly the
    selections, and after the drain no worker thread or pool task is
    left: the workers exit 0 with idle pools, and their OS thread count
    did not grow between a warm-up and the end of the run."""
    healthy_cells(server_dbs, tmp_path, hosts=HOSTS, vcpus=VCPUS)
    cells_file = str(tmp_path / "cells.json")
    served = serve(cells_file, extra=["--stats-interval", "0",
                                      "--scatter-gather-timeout", "10"])
    pids = worker_pids(served.log())
    warm = load(rabbit_url, served.topic, WARMUP, CLIENTS, timeout=60)
    threads_warm = _threads(pids)

    result = load(rabbit_url, served.topic, REQUESTS, CLIENTS, timeout=60)
    print(f"\n{REQUESTS} requests from {CLIENTS} clients:\n{result.render()}")

    threads_end = _threads(pids)
    answered = warm.outcomes + result.outcomes
    assert sum(answered.values()) == REQUESTS + WARMUP
    assert set(answered) <= {"selected", "NoValidHost"}, result.errors[:3]
    capacity = 2 * HOSTS * VCPUS
    assert answered["selected"] == min(REQUESTS + WARMUP, capacity)
    report = check(cells_file)
    assert report["ok"], report["violations"][:5]
    placed = {**selections(warm), **selections(result)}
    assert len(placed) == answered["selected"]
    assert allocations(cells_file) == placed
    print(f"worker threads: {threads_warm} after warm-up, {threads_end} "
          f"after {REQUESTS} requests")
    assert threads_end < threads_warm + THREAD_GROWTH
    served.signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0
    final = {s["pid"]: s for s in pool_states(served.log())}
    assert sorted(final) == sorted(pids)
    assert all(s["idle"] == s["max"] and s["queued"] == 0
               for s in final.values()), final
