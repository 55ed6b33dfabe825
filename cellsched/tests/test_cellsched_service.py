"""``cellsched serve --workers 2`` for real: RabbitMQ, real cell databases,
real processes and signals, called by a plain oslo.messaging client."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import Counter

import oslo_messaging
import pytest
import sqlalchemy as sa

from cellsched import cells as cells_mod
from cellsched import inventory
from cellsched_testlib import rpc_client, run_cli, seeded_cells
from reliability_lib import wait_for

FLAVOR = {"vcpus": 1, "memory_mb": 512, "disk_gb": 10}


def _engines(cells_file):
    return {c.name: cells_mod.create_engine(c)
            for c in cells_mod.load_cells_file(cells_file)}


def _allocations(cells_file) -> dict[str, tuple[str, str]]:
    """consumer uuid -> (cell, host) over all cells."""
    out = {}
    for name, engine in _engines(cells_file).items():
        for consumer, host in inventory.allocation_consumers(engine).items():
            out[consumer] = (name, host)
        engine.dispose()
    return out


def test_plain_oslo_messaging_client_gets_correct_results(
        cell_dbs, tmp_path, serve, rabbit_url):
    cells_file = seeded_cells(cell_dbs, tmp_path, hosts=4,
                              availability_zones="az1,az2")
    served = serve(cells_file)
    transport, client = rpc_client(rabbit_url, served.topic)
    try:
        uuids = [str(uuid.uuid4()) for _ in range(3)]
        sel = client.call({}, "select_destinations", request_spec={
            "flavor": FLAVOR, "num_instances": 3,
            "availability_zone": "az2", "instance_uuids": uuids})
        assert [s["instance_uuid"] for s in sel] == uuids
        assert all(s["availability_zone"] == "az2" for s in sel)
        # Spread by free RAM: three instances land on three hosts.
        assert len({(s["cell"], s["host"]) for s in sel}) == 3
        assert {u: (s["cell"], s["host"]) for u, s in zip(uuids, sel)} == \
            _allocations(cells_file)

        with pytest.raises(oslo_messaging.RemoteError) as info:
            client.call({}, "select_destinations", request_spec={
                "flavor": {**FLAVOR, "vcpus": "two"}})
        assert info.value.exc_type == "InvalidRequest"
        assert "request_spec.flavor.vcpus" in info.value.value

        with pytest.raises(oslo_messaging.RemoteError) as info:
            client.call({}, "select_destinations", spec={"flavor": FLAVOR})
        assert info.value.exc_type == "InvalidRequest"
        assert "accepts only request_spec" in info.value.value

        with pytest.raises(oslo_messaging.RemoteError) as info:
            client.call({}, "select_destinations", request_spec={
                "flavor": {**FLAVOR, "vcpus": 64}})
        assert info.value.exc_type == "NoValidHost"
        assert "not enough vCPUs" in info.value.value

        # The service is still healthy after the bad requests; nothing
        # was claimed for them.
        assert len(client.call({}, "select_destinations", request_spec={
            "flavor": FLAVOR})) == 1
        assert len(_allocations(cells_file)) == 4
    finally:
        transport.cleanup()
    run_cli("check", "--cells-file", cells_file)
    # The CLI client works against the same service.
    out = run_cli("load", "--transport-url", rabbit_url, "--topic",
                  served.topic, "--cells-file", cells_file, "-n", 20, "-c",
                  5, "--json").stdout
    result = json.loads(out)
    assert result["outcomes"] == {"selected": 20}
    assert set(result["latency_ms"]) >= {"p50", "p95", "p99"}
    assert served.stop() == 0
    log = served.log()
    assert "Stats of " in log and "State of " in log
    assert "drained" in log


@pytest.mark.holds_many_connections
def test_concurrent_requests_never_overcommit(cell_dbs, tmp_path, serve,
                                              rabbit_url):
    # 3 cells x 20 hosts x 8 vCPUs = 480 one-vCPU instances of room for
    # 1000 requests from 16 callers racing for the last hosts: the rest
    # must be NoValidHost, nothing lost or doubled.  Every request reads
    # all 3 cells at once: 64 callers held up to 100 PostgreSQL
    # connections, the server's whole default max_connections.
    total, concurrency, capacity = 1000, 16, 480
    cells_file = seeded_cells(cell_dbs, tmp_path, hosts=20, vcpus=8)
    served = serve(cells_file, extra=["--stats-interval", "0"])
    transport, client = rpc_client(rabbit_url, served.topic, timeout=120)
    outcomes, selections, lock = Counter(), {}, threading.Lock()
    todo = list(range(total))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            instance = str(uuid.uuid4())
            try:
                sel = client.call({}, "select_destinations", request_spec={
                    "flavor": FLAVOR, "instance_uuids": [instance]})
                with lock:
                    outcomes["selected"] += 1
                    assert sel[0]["instance_uuid"] == instance
                    selections[instance] = (sel[0]["cell"], sel[0]["host"])
            except oslo_messaging.RemoteError as exc:
                with lock:
                    outcomes[exc.exc_type] += 1
            except Exception as exc:
                with lock:
                    outcomes[type(exc).__name__] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    transport.cleanup()
    print(f"\n{cell_dbs.backend}: {total} requests in {elapsed:.1f}s "
          f"({total / elapsed:.0f} req/s): {dict(outcomes)}")
    assert sum(outcomes.values()) == total
    assert set(outcomes) <= {"selected", "NoValidHost"}, outcomes
    assert outcomes["selected"] == capacity
    assert _allocations(cells_file) == selections
    check = run_cli("check", "--cells-file", cells_file, "--json")
    report = json.loads(check.stdout)
    assert report["ok"] and report["violations"] == []
    assert sum(c["allocations"] for c in report["cells"].values()) == capacity
    assert served.stop() == 0
    # Both worker processes took a share of the topic.
    pids = {line.split()[2] for line in served.log().splitlines()
            if "Scheduler counters" in line}
    assert len(pids) == 2


def test_sigterm_drains_in_flight_requests(server_dbs, tmp_path, serve,
                                           rabbit_url):
    """Claims blocked behind a table lock are in flight when SIGTERM
    arrives; every one of them must still be answered, then exit 0."""
    dbs = server_dbs("postgresql")
    cells_file = seeded_cells(dbs, tmp_path, count=1, hosts=10)
    served = serve(cells_file)
    transport, client = rpc_client(rabbit_url, served.topic, timeout=60)
    engine = list(_engines(cells_file).values())[0]
    results, lock = [], threading.Lock()

    def call():
        try:
            sel = client.call({}, "select_destinations",
                              request_spec={"flavor": FLAVOR})
            out = ("selected", sel[0]["instance_uuid"])
        except Exception as exc:
            out = (type(exc).__name__, str(exc)[:200])
        with lock:
            results.append(out)

    conn = engine.connect()
    trans = conn.begin()
    # Readers pass, claims (UPDATE) wait: requests are now in flight.
    conn.execute(sa.text("LOCK TABLE compute_nodes IN EXCLUSIVE MODE"))
    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as probe:
                waiting = probe.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted "
                    "AND relation = 'compute_nodes'::regclass")).scalar()
            if waiting >= 2:
                break
            time.sleep(0.1)
        assert waiting >= 2, "claims never reached the database"
        served.signal(signal.SIGTERM)
        # Both workers are stopping, and wait for the blocked claims.
        wait_for(lambda: served.log().count("stopping: draining") == 2, 60,
                 what="both workers to start draining")
        assert served.proc.poll() is None, "exited before draining"
        assert "drained" not in served.log()
    finally:
        trans.rollback()
        conn.close()
    for t in threads:
        t.join(60)
    assert served.proc.wait(60) == 0
    transport.cleanup()
    done = Counter(r[0] for r in results)
    assert done["selected"] >= 2 and len(results) == 8, results
    answered = {r[1] for r in results if r[0] == "selected"}
    alloc = set(inventory.allocation_consumers(engine))
    # Everything answered is allocated; nothing allocated went unanswered.
    assert answered == alloc
    engine.dispose()
    run_cli("check", "--cells-file", cells_file)
    assert "drained" in served.log()


def test_sighup_reloads_weighers(server_dbs, tmp_path, serve, rabbit_url):
    dbs = server_dbs("mariadb")
    cells_file = seeded_cells(dbs, tmp_path, count=1, hosts=5)
    conf_file = tmp_path / "cellsched.conf"
    conf_file.write_text("[cellsched]\nweighers = ram:1.0\n")
    served = serve(cells_file, extra=["--config-file", str(conf_file)])
    transport, client = rpc_client(rabbit_url, served.topic, timeout=60)

    def hosts(n):
        return [client.call({}, "select_destinations",
                            request_spec={"flavor": FLAVOR})[0]["host"]
                for _ in range(n)]

    try:
        assert len(set(hosts(4))) == 4          # spread
        conf_file.write_text("[cellsched]\nweighers = ram:-1.0\n")
        served.signal(signal.SIGHUP)
        wait_for(lambda: served.log().count("weighers ram:-1") >= 2, 60,
                 what="both workers to serve with the new weighers")
        picked = hosts(4)                       # both workers stack now
        assert len(set(picked)) == 1, (picked, served.log()[-5000:])
    finally:
        transport.cleanup()
    assert served.stop() == 0


def test_sighup_under_load_loses_nothing_with_client_retry(
        server_dbs, tmp_path, serve, rabbit_url):
    """Workers restart on SIGHUP while 8 callers keep sending.

    oslo.messaging acks a request on receipt, so the one a stopping worker
    received during the consumer cancel is dropped; the cellsched client
    retries with the same instance uuids and the scheduler hands back any
    earlier claim, so every request ends with exactly one allocation.
    """
    import subprocess
    from cellsched_testlib import CLI
    cells_file = seeded_cells(server_dbs("sqlite"), tmp_path, hosts=50,
                              vcpus=1000)
    served = serve(cells_file, extra=["--stats-interval", "0"])
    load = subprocess.Popen(
        [*CLI, "load", "--cells-file", cells_file, "--transport-url",
         rabbit_url, "--topic", served.topic, "-n", "1200", "-c", "8",
         "--rpc-timeout", "5", "--json", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # SIGHUP once the load is under way (the SQLite cell's books show it).
    wait_for(lambda: len(_allocations(cells_file)) >= 100, 60,
             what="the load to get going")
    served.signal(signal.SIGHUP)
    out, err = load.communicate(timeout=120)
    assert load.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["outcomes"] == {"selected": 1200}, result
    assert len(_allocations(cells_file)) == 1200
    run_cli("check", "--cells-file", cells_file)
    assert served.log().count("serving topic") >= 4   # workers restarted
    assert served.stop() == 0


def test_workers_pin_themselves_in_threading_mode(server_dbs, tmp_path, serve,
                                                 rabbit_url):
    """Seen from outside: in threading mode each worker runs on its own CPU
    (offramp.pin_worker's default); in eventlet mode they may use any."""
    import os
    import re

    import offramp

    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two CPUs to spread the workers over")
    cells_file = seeded_cells(server_dbs("sqlite"), tmp_path, count=1, hosts=2)
    served = serve(cells_file)
    pids = [int(p) for p in re.findall(r"cellsched worker (\d+) serving",
                                       served.log())]
    assert len(pids) == 2
    affinity = [sorted(os.sched_getaffinity(pid)) for pid in pids]
    if offramp.current_mode() == offramp.Mode.THREADING:
        assert all(len(cpus) == 1 for cpus in affinity), affinity
        assert affinity[0] != affinity[1]
        for pid, cpus in zip(pids, affinity):
            assert f"cellsched worker {pid} serving topic" in served.log()
            assert re.search(rf"worker {pid} serving .*CPU {cpus[0]}\)",
                             served.log())
    else:
        assert affinity == [allowed, allowed]
        assert served.log().count("any CPU)") == 2
    transport, client = rpc_client(rabbit_url, served.topic)
    try:
        assert len(client.call({}, "select_destinations",
                               request_spec={"flavor": FLAVOR})) == 1
    finally:
        transport.cleanup()
    assert served.stop() == 0
