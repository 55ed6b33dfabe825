"""Request validation, filters and weighers (pure unit tests)."""

from __future__ import annotations

import uuid

import pytest

from cellsched.filters import filter_hosts
from cellsched.inventory import HostState
from cellsched.request import InvalidRequest, parse_request_spec
from cellsched.weighers import parse_weighers, weigh_hosts

FLAVOR = {"vcpus": 2, "memory_mb": 1024, "disk_gb": 10}


def host(name, free_mem=4096, free_cpu=8, az="az1", enabled=True):
    return HostState("c", hash(name) % 1000, str(uuid.uuid4()), name, az,
                     enabled, 8, 8 - free_cpu, 4096, 4096 - free_mem,
                     100, 0)


def test_valid_spec_generates_uuids():
    spec = parse_request_spec({"flavor": FLAVOR, "num_instances": 3})
    assert spec.flavor.vcpus == 2 and len(set(spec.instance_uuids)) == 3


@pytest.mark.parametrize("spec,field", [
    ("nope", "request_spec must be an object"),
    ({}, "request_spec.flavor must be an object"),
    ({"flavor": {"vcpus": 1, "memory_mb": 1}}, "missing disk_gb"),
    ({"flavor": {**FLAVOR, "vcpus": "2"}}, "request_spec.flavor.vcpus"),
    ({"flavor": {**FLAVOR, "vcpus": True}}, "request_spec.flavor.vcpus"),
    ({"flavor": {**FLAVOR, "memory_mb": 0}}, "request_spec.flavor.memory_mb"),
    ({"flavor": FLAVOR, "num_instances": 0}, "request_spec.num_instances"),
    ({"flavor": FLAVOR, "num_instances": 10**6}, "between 1 and 1000"),
    ({"flavor": FLAVOR, "availability_zone": 5}, "availability_zone"),
    ({"flavor": FLAVOR, "num_instances": 2, "instance_uuids": ["x"]},
     "has 1 entries but num_instances is 2"),
    ({"flavor": FLAVOR, "instance_uuids": ["not-a-uuid"]},
     "instance_uuids[0] is not a UUID"),
    ({"flavor": FLAVOR, "color": "red"}, "unknown fields ['color']"),
])
def test_malformed_specs_name_the_field(spec, field):
    with pytest.raises(InvalidRequest) as info:
        parse_request_spec(spec)
    assert field in str(info.value)


def test_filters_reject_with_reasons():
    spec = parse_request_spec({"flavor": FLAVOR, "availability_zone": "az1"})
    hosts = [host("ok"), host("off", enabled=False), host("z", az="az2"),
             host("ram", free_mem=512), host("cpu", free_cpu=1)]
    passed, rejected = filter_hosts(hosts, spec)
    assert [h.host for h in passed] == ["ok"]
    assert rejected == {"disabled": 1, "availability zone": 1,
                        "not enough RAM": 1, "not enough vCPUs": 1}


def test_ram_weigher_spreads_and_negative_multiplier_stacks():
    hosts = [host("small", free_mem=1024), host("big", free_mem=4096),
             host("mid", free_mem=2048)]
    spread = weigh_hosts(hosts, parse_weighers(["ram"]))
    assert [h.host for _, h in spread] == ["big", "mid", "small"]
    stack = weigh_hosts(hosts, parse_weighers(["ram:-1"]))
    assert [h.host for _, h in stack] == ["small", "mid", "big"]


def test_combined_weighers_and_bad_names():
    hosts = [host("a", free_mem=4096, free_cpu=1),
             host("b", free_mem=3072, free_cpu=8)]
    ordered = weigh_hosts(hosts, parse_weighers(["ram:1", "cpu:2"]))
    assert ordered[0][1].host == "b"
    with pytest.raises(ValueError, match="accepted: cpu, disk, ram"):
        parse_weighers(["gpu"])
    with pytest.raises(ValueError, match="is not a number"):
        parse_weighers(["ram:x"])
