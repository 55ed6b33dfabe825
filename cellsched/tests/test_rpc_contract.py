"""The RPC contract as a third-party client meets it: plain oslo.messaging
against the real ``cellsched serve`` on RabbitMQ with a MariaDB and a
PostgreSQL cell, in the session's mode.

* Errors a client causes are answered with the right exception and logged
  in one WARNING line, never an ERROR with a traceback; a real server fault
  still logs its traceback.
* Every error reply is bounded, whatever the size of the request.
* The shipped plain-client example (cellsched/examples/plain_client.py)
  works, with a private ``cfg.ConfigOpts()``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import oslo_messaging
import pytest
import sqlalchemy as sa

from cellsched_testlib import rpc_client
from reliability_lib import FLAVOR, allocations, check, healthy_cells

#: The longest error message a reply may carry (cellsched/README.md).
MAX_ERROR_CHARS = 1000
CELLSCHED = os.path.join(os.path.dirname(__file__), os.pardir)
EXAMPLE = os.path.join(CELLSCHED, "examples", "plain_client.py")
SPEC = {"flavor": FLAVOR}


def _served(server_dbs, tmp_path, serve):
    cells = healthy_cells(server_dbs, tmp_path, hosts=2)
    cells_file = str(tmp_path / "cells.json")
    return cells, cells_file, serve(cells_file,
                                    extra=["--stats-interval", "0"])


def _call(transport, topic, method, target=None, **kwargs):
    """One call; returns the RemoteError it must end with."""
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=topic, **(target or {})),
        timeout=30)
    with pytest.raises(oslo_messaging.RemoteError) as info:
        client.call({}, method, **kwargs)
    return info.value


def _error_type(transport, topic, method, target=None, **kwargs) -> str:
    """The type of the error reply (a builtin one is raised as itself)."""
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=topic, **(target or {})),
        timeout=30)
    try:
        client.call({}, method, **kwargs)
    except oslo_messaging.RemoteError as exc:
        return exc.exc_type
    except Exception as exc:
        return type(exc).__name__.replace("_Remote", "")
    return "no error"


#: label -> (Target keywords, method, call keywords, expected exc_type)
CLIENT_ERRORS = {
    "unknown method": ({}, "select_destination", {"request_spec": SPEC},
                       "NoSuchMethod"),
    "private method": ({}, "_reason", {}, "NoSuchMethod"),
    "method not a string": ({}, 42, {}, "NoSuchMethod"),
    "version 0.9": ({"version": "0.9"}, "select_destinations",
                    {"request_spec": SPEC}, "UnsupportedVersion"),
    "version 1.5": ({"version": "1.5"}, "select_destinations",
                    {"request_spec": SPEC}, "UnsupportedVersion"),
    "version 2.0": ({"version": "2.0"}, "select_destinations",
                    {"request_spec": SPEC}, "UnsupportedVersion"),
    "version not a number": ({"version": "one"}, "select_destinations",
                             {"request_spec": SPEC}, "UnsupportedVersion"),
    "a namespace": ({"namespace": "scheduler"}, "select_destinations",
                    {"request_spec": SPEC}, "UnsupportedVersion"),
    "unexpected argument": ({}, "select_destinations", {"spec": SPEC},
                            "InvalidRequest"),
    "no request_spec": ({}, "select_destinations", {}, "InvalidRequest"),
    "flavor by name": ({}, "select_destinations",
                       {"request_spec": {"flavor": "m1.small"}},
                       "InvalidRequest"),
}


@pytest.mark.needs_services
def test_client_errors_get_their_exception_and_one_warning_line(
        server_dbs, tmp_path, serve, rabbit_url):
    cells, cells_file, served = _served(server_dbs, tmp_path, serve)
    transport, client = rpc_client(rabbit_url, served.topic)
    try:
        got = {label: _error_type(transport, served.topic, method, target,
                                  **kw)
               for label, (target, method, kw, _) in CLIENT_ERRORS.items()}
        log = served.log()
        refused = re.findall(r" WARNING cellsched\.rpc: Refused a request "
                             r"for .*: (\w+): ", log)
        problems = {
            "wrong replies": {k: v for k, v in got.items()
                              if v != CLIENT_ERRORS[k][3]},
            "logged at ERROR": " ERROR " in log,
            "traceback logged": "Traceback" in log,
            "not one WARNING line each": sorted(refused) != sorted(
                c[3] for c in CLIENT_ERRORS.values()),
        }
        assert not any(problems.values()), (problems, log[-3000:])

        # A real fault is not the client's: a compute node whose vcpus the
        # database hands back as NULL breaks the scheduler itself.
        engine = sa.create_engine(cells["mdb"], poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "ALTER TABLE compute_nodes MODIFY vcpus INT NULL"))
            conn.execute(sa.text("UPDATE compute_nodes SET vcpus = NULL"))
        # oslo.messaging re-raises a builtin exception type as itself.
        with pytest.raises(TypeError):
            client.call({}, "select_destinations", request_spec=SPEC)
        log = served.log()
        assert "ERROR oslo_messaging.rpc.server: Exception during message " \
               "handling" in log
        assert "Traceback (most recent call last)" in log
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE compute_nodes SET vcpus = 64"))
        engine.dispose()
        good = client.call({}, "select_destinations", request_spec=SPEC)
    finally:
        transport.cleanup()
    # Nothing was claimed for any refused request.
    assert allocations(cells_file) == {good[0]["instance_uuid"]:
                                       (good[0]["cell"], good[0]["host"])}
    assert served.stop() == 0


@pytest.mark.needs_services
def test_error_replies_are_bounded_whatever_the_request(
        server_dbs, tmp_path, serve, rabbit_url):
    """A 1 MB zone name used to come back twice in a 2,000,172-character
    NoValidHost; 20,000 unknown flavor keys in a 188,966-character
    InvalidRequest."""
    _, cells_file, served = _served(server_dbs, tmp_path, serve)
    big = 10 ** 6
    cases = {
        "1 MB zone": ({"request_spec": {**SPEC, "availability_zone":
                                        "z" * big}},
                      "InvalidRequest", "characters long; zone names have "
                                        "at most 255"),
        "20,000 flavor keys": (
            {"request_spec": {"flavor": {**FLAVOR, **{
                f"key{i}": i for i in range(20000)}}}},
            "InvalidRequest", "flavor has 20000 unknown fields"),
        "20,000 request_spec keys": (
            {"request_spec": {**SPEC, **{f"key{i}": i
                                         for i in range(20000)}}},
            "InvalidRequest", "request_spec has 20000 unknown fields"),
        "2,000 arguments": (
            {f"arg{i}": i for i in range(2000)}, "InvalidRequest",
            "got 2000 unexpected arguments"),
        "1 MB instance uuid": (
            {"request_spec": {**SPEC, "instance_uuids": ["u" * big]}},
            "InvalidRequest", "instance_uuids[0] is not a UUID"),
        "1 MB num_instances": (
            {"request_spec": {**SPEC, "num_instances": "9" * big}},
            "InvalidRequest", "num_instances must be an integer"),
        "1 MB vcpus list": (
            {"request_spec": {"flavor": {**FLAVOR, "vcpus": [1] * big}}},
            "InvalidRequest", "flavor.vcpus must be an integer"),
    }
    transport, _ = rpc_client(rabbit_url, served.topic)
    try:
        for label, (kwargs, exc_type, needle) in cases.items():
            err = _call(transport, served.topic, "select_destinations",
                        **kwargs)
            assert (err.exc_type, needle in err.value) == (exc_type, True), \
                (label, err.value[:300])
            assert len(err.value) <= MAX_ERROR_CHARS, (label, len(err.value))
            # The whole reply: message, arguments and server traceback.
            assert len(str(err)) < 10 * MAX_ERROR_CHARS, (label,
                                                          len(str(err)))
        # A zone of allowed length that no host has: named once, not twice.
        zone = "q" * 250
        err = _call(transport, served.topic, "select_destinations",
                    request_spec={**SPEC, "availability_zone": zone})
        assert err.exc_type == "NoValidHost"
        assert err.value.count(zone) == 1, err.value
        assert "zones with hosts: nova" in err.value
        # A 100 KB method name: the reply names it, cut short.
        err = _call(transport, served.topic, "m" * 100_000)
        assert err.exc_type == "NoSuchMethod"
        assert len(err.value) <= MAX_ERROR_CHARS
    finally:
        transport.cleanup()
    assert allocations(cells_file) == {}
    log = served.log()
    assert max(len(line) for line in log.splitlines()) < 2 * MAX_ERROR_CHARS
    assert "Traceback" not in log
    assert served.stop() == 0


def _example(*args, check=True):
    """Run the example as a user would, and check it imported no cellsched
    code (it is the contract for clients that have none)."""
    code = ("import runpy, sys; sys.argv = sys.argv[1:]; rc = 0\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "except SystemExit as exc:\n    rc = exc.code\n"
            "leaked = sorted(m for m in sys.modules if m.startswith"
            "(('cellsched', 'offramp')))\n"
            "assert not leaked, leaked\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, EXAMPLE, *args],
                          capture_output=True, text=True, timeout=120)
    assert "AssertionError" not in proc.stderr, proc.stderr[-2000:]
    return proc


@pytest.mark.needs_services
def test_plain_client_example_against_the_real_service(
        server_dbs, tmp_path, serve, rabbit_url):
    import json
    with open(EXAMPLE, encoding="utf-8") as f:
        source = f.read()
    # The example shows the private-ConfigOpts route, which failed with
    # NoSuchOptError: oslo_messaging_tracing.
    assert "cfg.ConfigOpts()" in source and "cfg.CONF" not in \
        source.replace("``cfg.CONF``", "")
    _, cells_file, served = _served(server_dbs, tmp_path, serve)
    common = ["--transport-url", rabbit_url, "--topic", served.topic]

    proc = _example(*common, "--num-instances", "3",
                    "--availability-zone", "nova")
    assert proc.returncode == 0, proc.stderr[-3000:]
    placed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(placed) == 3
    assert {s["instance_uuid"]: (s["cell"], s["host"]) for s in placed} == \
        allocations(cells_file)

    bad = _example(*common, "--vcpus", "0")
    assert bad.returncode == 1
    assert "InvalidRequest: request_spec.flavor.vcpus must be an integer" \
        in bad.stderr
    full = _example(*common, "--vcpus", "100000")
    assert full.returncode == 1 and "NoValidHost: " in full.stderr
    assert check(cells_file)["ok"]
    assert served.stop() == 0


def test_readme_states_the_contract_the_service_implements():
    """cellsched/README.md's "RPC contract" names the target, the limits
    and the error types the code has; it did not exist before."""
    from cellsched import config, request, rpc
    with open(os.path.join(CELLSCHED, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "\n## RPC contract\n" in readme
    section = readme.split("\n## RPC contract\n", 1)[1].split("\n## ", 1)[0]
    topic = next(o.default for o in config.OPTS if o.name == "topic")
    needles = [
        f'Target(topic="{topic}", version="{rpc.API_VERSION}")',
        "no namespace", "`select_destinations`", "`request_spec`",
        "so `{}` will do", "(examples/plain_client.py)",
        f"`num_instances` 1 to {request.MAX_INSTANCES}",
        f"zone of at most {request.MAX_ZONE_CHARS} characters",
        f"message of at most {request.MAX_ERROR_CHARS} characters",
        "`MessagingTimeout`", "`cfg.ConfigOpts()`", rpc.WAKE_METHOD,
        *(f"| `{t}` |" for t in (*rpc.EXPECTED_ERRORS, "NoSuchMethod",
                                 "UnsupportedVersion")),
    ]
    assert [n for n in needles if n not in section] == []
    assert os.path.isfile(EXAMPLE)
