"""Bad input the existing tests did not cover yet, end to end: each case
gets a clear error naming the value and what is accepted, nothing is lost,
and no password is ever shown.

Covered elsewhere, not repeated here: OFFRAMP_CONCURRENCY and the
application switch (tests/test_bootstrap.py), pool sizes in an oslo.config
file and bad pool sizes at get_executor() time (same), request_spec field
validation as a unit (test_cellsched_request_filters_weighers.py), cells
file parsing as a unit (test_cellsched_cells.py), binary, non-UTF-8,
symlink-loop and unparseable files for scan and rewrite (tests/migrate/).
"""

from __future__ import annotations

import json
import os

import oslo_messaging
import pytest

from cellsched_testlib import rpc_client, run_cli, write_cells
from reliability_lib import (FLAVOR, allocations, check, closed_port,
                             healthy_cells, worker_pids)

MODE = os.environ.get("OFFRAMP_CONCURRENCY", "threading").upper()


def _serve_refused(tmp_path, *args, env=None):
    """``cellsched serve`` must refuse to start: exit 2 before any worker
    serves (how long the refusal takes depends on the machine's load)."""
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        proc = run_cli("serve", "--transport-url", "fake://", *args,
                       check=False, timeout=180)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "serving topic" not in proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.fixture(scope="module")
def sqlite_cells(tmp_path_factory):
    """One initialised cell for the module: a refused start never writes."""
    tmp_path = tmp_path_factory.mktemp("cells")
    path = write_cells(tmp_path, {"a": f"sqlite:///{tmp_path / 'a.db'}"})
    run_cli("init", "--cells-file", path)
    return path


@pytest.mark.parametrize("value", ["0", "-3", "99999999", "ten"])
def test_bad_pool_size_in_env_stops_the_start(tmp_path, sqlite_cells, value):
    """A pool is made at a worker's first request; a bad size in the
    environment used to let ``serve`` start and fail every request.  Now
    bootstrap refuses it, naming the variable, the value and the range."""
    var = f"OFFRAMP_{MODE}_POOL_SCATTER_GATHER"
    err = _serve_refused(tmp_path, "--cells-file", sqlite_cells,
                         env={var: value})
    assert f"{var} has invalid value {value!r}" in err
    assert "accepted: a whole number from 1 to" in err


@pytest.mark.parametrize("var,value,accepted", [
    ("OFFRAMP_STATS_PERIOD", "soon", "a number >= 0"),
    ("OFFRAMP_HUNG_TASK_THRESHOLDS", "60,never", "positive seconds"),
    ("OFFRAMP_DEADLOCK_ACTION", "explode", "log, raise"),
    ("OFFRAMP_SATURATION_WARNING_INTERVAL", "-1", "a number >= 0"),
])
def test_bad_offramp_env_through_the_cli(tmp_path, sqlite_cells, var, value,
                                         accepted):
    err = _serve_refused(tmp_path, "--cells-file", sqlite_cells,
                         env={var: value})
    assert f"{var} has invalid value {value!r}" in err and accepted in err


@pytest.mark.parametrize("line,needles", [
    ("workers = 0", ("workers = '0'", "greater than or equal to 1")),
    ("workers = many", ("workers = 'many'", "invalid literal")),
    ("scatter_gather_timeout = -1",
     ("scatter_gather_timeout = '-1'", "greater than or equal to")),
    ("weighers = ram,gpu", ("unknown weigher 'gpu'", "accepted: cpu")),
    ("stats_interval = often", ("stats_interval = 'often'", "float")),
])
def test_bad_cellsched_config_values(tmp_path, sqlite_cells, line, needles):
    """The error names the option, the value, the file and what is
    accepted; oslo.config alone left the value out for a number out of
    range ('Should be greater than or equal to 1')."""
    conf = tmp_path / "svc.conf"
    conf.write_text(f"[cellsched]\n{line}\n")
    err = _serve_refused(tmp_path, "--cells-file", sqlite_cells,
                         "--config-file", str(conf))
    assert all(n in err for n in needles), err
    assert str(conf) in err or line.startswith("weighers")


@pytest.mark.parametrize("content,needle", [
    (b"\x00\xff\xfe\x00 binary", "is not valid JSON"),
    (b'{"cells": {"a": "sqlite:///x', "is not valid JSON"),
    (b"", "is not valid JSON"),
    ("{}".encode("utf-16"), "is not valid JSON"),
    (None, "cannot be read (Is a directory)"),
])
def test_corrupt_cells_file_refuses_to_serve(tmp_path, content, needle):
    path = tmp_path / "cells.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    err = _serve_refused(tmp_path, "--cells-file", str(path))
    assert f"cells file {str(path)!r}" in err and needle in err
    assert '"cells"' in err  # says what a cells file looks like


def test_db_password_never_logged(server_dbs, tmp_path, serve, rabbit_url):
    """A served cell URL with a password (URL-encoded '@' in it) next to a
    cell that is down with a password: with --debug logging, across start,
    failed reads, statistics and stop, and in init/check output, the
    password never appears, encoded or not."""
    secret, encoded = "S3cret@pw", "S3cret%40pw"
    pg = server_dbs("postgresql").create(1)["cell1"]
    cells = {"pg": pg.replace("postgres@", f"postgres:{encoded}@"),
             "down": f"mysql+pymysql://root:{encoded}@127.0.0.1:"
                     f"{closed_port()}/x"}
    path = write_cells(tmp_path, cells)
    outputs = [run_cli("init", "--cells-file", path, check=False),
               run_cli("check", "--cells-file", path, check=False)]
    served = serve(path, extra=["--debug", "--stats-interval", "0.5",
                                "--scatter-gather-timeout", "3"])
    transport, client = rpc_client(rabbit_url, served.topic, timeout=30)
    try:
        with pytest.raises(oslo_messaging.RemoteError) as info:
            client.call({}, "select_destinations",
                        request_spec={"flavor": FLAVOR})
    finally:
        transport.cleanup()
    assert info.value.exc_type == "NoValidHost"   # pg is empty, down is down
    assert served.stop() == 0
    text = served.log() + str(info.value) + "".join(
        o.stdout + o.stderr for o in outputs)
    assert "Cell down failed" in text and "***" in text
    assert secret not in text and encoded not in text


def test_malformed_rpc_payloads_over_rabbitmq(server_dbs, tmp_path, serve,
                                              rabbit_url):
    """Payloads a buggy or hostile client can put on the wire: each gets
    an InvalidRequest (or, for an unknown zone, NoValidHost) naming the
    field and what is accepted; no claim is made, no worker dies, and the
    service answers a good request afterwards."""
    healthy_cells(server_dbs, tmp_path, hosts=2)
    cells_file = str(tmp_path / "cells.json")
    served = serve(cells_file, extra=["--stats-interval", "0"])
    pids = worker_pids(served.log())
    cases = [
        ({"request_spec": [1, 2]}, "InvalidRequest",
         "request_spec must be an object"),
        ({"request_spec": "flavor=m1.small"}, "InvalidRequest",
         "got str"),
        ({"request_spec": {"flavor": {"vcpus": 1.5, "memory_mb": 512,
                                      "disk_gb": 1}}},
         "InvalidRequest", "flavor.vcpus must be an integer >= 1, got "
                           "float 1.5"),
        ({"request_spec": {"flavor": None}}, "InvalidRequest",
         "flavor must be an object"),
        ({"request_spec": {"flavor": {"vcpus": 1}}}, "InvalidRequest",
         "missing memory_mb, disk_gb"),
        ({"request_spec": {"flavor": FLAVOR, "num_instances": 10 ** 6}},
         "InvalidRequest", "between 1 and 1000, got 1000000"),
        ({"request_spec": {"flavor": FLAVOR, "num_instances": 10 ** 30}},
         "InvalidRequest", f"got {10 ** 30}"),
        ({"request_spec": {"flavor": FLAVOR, "num_instances": -1}},
         "InvalidRequest", "got -1"),
        ({"request_spec": {"flavor": FLAVOR, "num_instances": "2"}},
         "InvalidRequest", "num_instances must be an integer"),
        ({"request_spec": {"flavor": FLAVOR, "instance_uuids": "abc"}},
         "InvalidRequest", "instance_uuids must be a list"),
        ({"request_spec": {"flavor": FLAVOR,
                           "availability_zone": ""}},
         "InvalidRequest", "non-empty string or null, got ''"),
        ({"request_spec": {"flavor": FLAVOR,
                           "availability_zone": "nowhere"}},
         "NoValidHost", "no host is in zone 'nowhere'; zones with hosts: "
                        "nova"),
        ({"request_spec": {"flavor": FLAVOR, "num_instances": 1000}},
         "NoValidHost", "only "),
        ({"request_spec": None}, "InvalidRequest", "needs request_spec"),
        ({}, "InvalidRequest", "needs request_spec"),
    ]
    transport, client = rpc_client(rabbit_url, served.topic, timeout=30)
    try:
        for kwargs, exc_type, needle in cases:
            with pytest.raises(oslo_messaging.RemoteError) as info:
                client.call({}, "select_destinations", **kwargs)
            assert (info.value.exc_type, needle in info.value.value) == \
                (exc_type, True), (kwargs, info.value.value)
        # Nothing claimed for any of them, not even the 1000-instance
        # request that fitted partly (its claims were released).
        assert allocations(cells_file) == {}
        good = client.call({}, "select_destinations",
                           request_spec={"flavor": FLAVOR})
    finally:
        transport.cleanup()
    assert allocations(cells_file) == {good[0]["instance_uuid"]:
                                       (good[0]["cell"], good[0]["host"])}
    assert check(cells_file)["ok"]
    assert worker_pids(served.log()) == pids and served.proc.poll() is None
    log = served.log()
    assert "Traceback" not in log, log[-3000:]
    assert served.stop() == 0


def test_scan_and_rewrite_survive_fifo_odd_names_and_dirs(tmp_path):
    """A named pipe (reading it would block forever), a file name that is
    not UTF-8, and a directory called ``x.py``: scan and rewrite finish,
    count what they can, and the JSON output stays valid."""
    import subprocess
    import sys
    root = tmp_path / "tree"
    (root / "dir.py").mkdir(parents=True)
    src = b"import eventlet\neventlet.sleep(1)\n"
    (root / "a.py").write_bytes(src)
    odd = os.path.join(os.fsencode(root), b"caf\xe9.py")
    with open(odd, "wb") as f:
        f.write(src)
    os.mkfifo(root / "pipe.py")

    def offramp(*args):
        return subprocess.run([sys.executable, "-m", "offramp", *args],
                              capture_output=True, timeout=180)

    out = offramp("scan", str(root), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["lines"] == 4 and len(data["files_importing"]["production"]
                                      ) == 2
    out = offramp("rewrite", str(root), "--write")
    assert out.returncode == 0, out.stderr
    assert b"rewrote 2 of 2 files" in out.stderr
    with open(odd, "rb") as f:
        assert b"time.sleep(1)" in f.read()
