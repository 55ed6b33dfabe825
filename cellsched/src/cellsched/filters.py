"""Host filters: which hosts could take one instance of the flavor at all.

Each filter returns a reason string when it rejects a host, so a
NoValidHost reply can say how many hosts each filter removed.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

from cellsched.inventory import HostState
from cellsched.request import RequestSpec

Filter = Callable[[HostState, RequestSpec], str | None]


def enabled_filter(host: HostState, spec: RequestSpec) -> str | None:
    return None if host.enabled else "disabled"


def availability_zone_filter(host: HostState, spec: RequestSpec
                             ) -> str | None:
    if spec.availability_zone is None \
            or host.availability_zone == spec.availability_zone:
        return None
    return "availability zone"


def ram_filter(host: HostState, spec: RequestSpec) -> str | None:
    return None if host.free_memory_mb >= spec.flavor.memory_mb \
        else "not enough RAM"


def cpu_filter(host: HostState, spec: RequestSpec) -> str | None:
    return None if host.free_vcpus >= spec.flavor.vcpus \
        else "not enough vCPUs"


def disk_filter(host: HostState, spec: RequestSpec) -> str | None:
    return None if host.free_disk_gb >= spec.flavor.disk_gb \
        else "not enough disk"


FILTERS: tuple[Filter, ...] = (enabled_filter, availability_zone_filter,
                               ram_filter, cpu_filter, disk_filter)


def rejection(host: HostState, spec: RequestSpec) -> str | None:
    """Why the first filter that rejects ``host`` does so, or None."""
    for f in FILTERS:
        reason = f(host, spec)
        if reason is not None:
            return reason
    return None


def filter_hosts(hosts: Iterable[HostState], spec: RequestSpec
                 ) -> tuple[list[HostState], Counter]:
    """The hosts that pass every filter, and rejection counts by reason."""
    passed, rejected = [], Counter()
    for host in hosts:
        reason = rejection(host, spec)
        if reason is None:
            passed.append(host)
        else:
            rejected[reason] += 1
    return passed, rejected
