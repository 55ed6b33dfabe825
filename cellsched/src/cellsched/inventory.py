"""What a cell holds: seeding compute nodes, reading host states, and
checking that the books balance.

Seeding must cope with 50 cells x 1000 hosts, so rows go in with one
executemany per batch rather than one INSERT per host.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

import sqlalchemy as sa

from cellsched.cells import write_transaction
from cellsched.schema import allocations, compute_nodes

SEED_BATCH = 1000


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass
class HostState:
    """A snapshot of one compute node, as read at the start of a request."""

    cell: str
    id: int
    uuid: str
    host: str
    availability_zone: str
    enabled: bool
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    disk_gb: int
    disk_gb_used: int

    @property
    def free_vcpus(self) -> int:
        return self.vcpus - self.vcpus_used

    @property
    def free_memory_mb(self) -> int:
        return self.memory_mb - self.memory_mb_used

    @property
    def free_disk_gb(self) -> int:
        return self.disk_gb - self.disk_gb_used

    def consume(self, flavor) -> None:
        """Account locally for a claim we just won, for the next instance."""
        self.vcpus_used += flavor.vcpus
        self.memory_mb_used += flavor.memory_mb
        self.disk_gb_used += flavor.disk_gb


def _validate_count(value, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or value < minimum:
        raise ValueError(
            f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def seed_cell(engine: sa.Engine, cell: str, hosts: int, vcpus: int,
              memory_mb: int, disk_gb: int,
              availability_zones: list[str] | tuple[str, ...] = ("nova",)
              ) -> int:
    """Add ``hosts`` new compute nodes to a cell; returns the new total.

    Host names continue after the existing ones, so seeding twice adds
    hosts instead of failing on duplicates.  Zones are assigned round-robin.
    """
    _validate_count(hosts, "hosts per cell")
    _validate_count(vcpus, "vcpus")
    _validate_count(memory_mb, "memory_mb")
    _validate_count(disk_gb, "disk_gb")
    if not availability_zones or not all(
            isinstance(z, str) and z for z in availability_zones):
        raise ValueError(
            f"availability zones must be non-empty names, got "
            f"{list(availability_zones)!r}")
    now = utcnow()
    with write_transaction(engine) as conn:
        start = conn.execute(
            sa.select(sa.func.count()).select_from(compute_nodes)).scalar()
        rows = [
            {"uuid": str(uuid.uuid4()),
             "host": f"{cell}-host{i:05d}",
             "availability_zone": availability_zones[i % len(
                 availability_zones)],
             "enabled": True,
             "vcpus": vcpus, "vcpus_used": 0,
             "memory_mb": memory_mb, "memory_mb_used": 0,
             "disk_gb": disk_gb, "disk_gb_used": 0,
             "updated_at": now}
            for i in range(start, start + hosts)
        ]
        for i in range(0, len(rows), SEED_BATCH):
            conn.execute(compute_nodes.insert(), rows[i:i + SEED_BATCH])
    return start + hosts


_c, _a = compute_nodes.c, allocations.c
# Built once: a request reads every cell, so statement construction showed
# up in profiles of the embedded stack.
_HOST_STATES = sa.select(
    _c.id, _c.uuid, _c.host, _c.availability_zone, _c.enabled, _c.vcpus,
    _c.vcpus_used, _c.memory_mb, _c.memory_mb_used, _c.disk_gb,
    _c.disk_gb_used)
# The same rows, each joined to the allocation a listed consumer holds on
# that node, if any: a request's read of a cell is one statement.
_HOST_STATES_AND_ALLOCATIONS = (
    _HOST_STATES.add_columns(_a.consumer_uuid, _a.vcpus, _a.memory_mb,
                             _a.disk_gb)
    .select_from(compute_nodes.outerjoin(allocations, sa.and_(
        _a.node_id == _c.id,
        _a.consumer_uuid.in_(sa.bindparam("consumers", expanding=True))))))
_HOST_COLUMNS = len(_HOST_STATES.selected_columns)


def host_states(engine: sa.Engine, cell: str) -> list[HostState]:
    """Read every compute node of a cell (one SELECT, no lock)."""
    return read_cell(engine, cell)[0]


def read_cell(engine: sa.Engine, cell: str, consumers=()
              ) -> tuple[list[HostState], dict]:
    """Every compute node of a cell, and the existing allocations of
    ``consumers`` there as selections plus the amounts: ``{uuid:
    {"selection": {...}, "resources": (vcpus, memory_mb, disk_gb)}}``.

    One statement: every database call is a round trip, and under native
    threads a point where the GIL changes hands. A node holding several of
    the consumers comes back once per consumer.
    """
    consumers = list(consumers)
    with engine.connect() as conn:
        if not consumers:
            return [HostState(cell, *row)
                    for row in conn.execute(_HOST_STATES)], {}
        rows = conn.execute(_HOST_STATES_AND_ALLOCATIONS,
                            {"consumers": consumers}).all()
    hosts: dict[int, HostState] = {}
    existing = {}
    for row in rows:
        if row[0] not in hosts:
            hosts[row[0]] = HostState(cell, *row[:_HOST_COLUMNS])
        consumer = row[_HOST_COLUMNS]
        if consumer is not None:
            existing[consumer] = {
                "selection": {"instance_uuid": consumer, "cell": cell,
                              "host": row[2], "node_uuid": row[1],
                              "availability_zone": row[3]},
                "resources": tuple(row[_HOST_COLUMNS + 1:])}
    return list(hosts.values()), existing


def set_enabled(engine: sa.Engine, host: str, enabled: bool) -> bool:
    with write_transaction(engine) as conn:
        res = conn.execute(compute_nodes.update()
                           .where(compute_nodes.c.host == host)
                           .values(enabled=enabled, updated_at=utcnow()))
        return res.rowcount == 1


def check_cell(engine: sa.Engine, cell: str) -> list[str]:
    """Every invariant violation in a cell, as readable sentences.

    * no node is over-committed (used <= total) or negative;
    * each node's used counters equal the sum of its allocations.
    """
    c = compute_nodes.c
    a = allocations.c
    problems = []
    sums = (sa.select(a.node_id,
                      sa.func.coalesce(sa.func.sum(a.vcpus), 0).label("v"),
                      sa.func.coalesce(sa.func.sum(a.memory_mb), 0)
                      .label("m"),
                      sa.func.coalesce(sa.func.sum(a.disk_gb), 0).label("d"))
            .group_by(a.node_id).subquery())
    query = (sa.select(c.host, c.vcpus, c.vcpus_used, c.memory_mb,
                       c.memory_mb_used, c.disk_gb, c.disk_gb_used,
                       sa.func.coalesce(sums.c.v, 0),
                       sa.func.coalesce(sums.c.m, 0),
                       sa.func.coalesce(sums.c.d, 0))
             .select_from(compute_nodes.outerjoin(
                 sums, sums.c.node_id == c.id)))
    with engine.connect() as conn:
        for (host, vcpus, vused, mem, mused, disk, dused,
             av, am, ad) in conn.execute(query):
            for name, total, used, allocated in (
                    ("vcpus", vcpus, vused, av),
                    ("memory_mb", mem, mused, am),
                    ("disk_gb", disk, dused, ad)):
                if used > total:
                    problems.append(
                        f"{cell}/{host}: {name} over-committed: used "
                        f"{used} > total {total}")
                if used < 0:
                    problems.append(
                        f"{cell}/{host}: {name} used is negative: {used}")
                if int(allocated) != used:
                    problems.append(
                        f"{cell}/{host}: {name} used counter {used} != "
                        f"sum of allocations {int(allocated)}")
        orphans = conn.execute(
            sa.select(sa.func.count()).select_from(allocations)
            .where(~a.node_id.in_(sa.select(c.id)))).scalar()
        if orphans:
            problems.append(
                f"{cell}: {orphans} allocations point at no compute node")
    return problems


def cell_summary(engine: sa.Engine) -> dict:
    """Counts for reports: nodes, allocations and resource use."""
    c = compute_nodes.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(c.vcpus), 0),
            sa.func.coalesce(sa.func.sum(c.vcpus_used), 0),
            sa.func.coalesce(sa.func.sum(c.memory_mb), 0),
            sa.func.coalesce(sa.func.sum(c.memory_mb_used), 0))).one()
        allocs = conn.execute(
            sa.select(sa.func.count()).select_from(allocations)).scalar()
    return {"nodes": row[0], "vcpus": int(row[1]), "vcpus_used": int(row[2]),
            "memory_mb": int(row[3]), "memory_mb_used": int(row[4]),
            "allocations": allocs}


def allocation_consumers(engine: sa.Engine) -> dict[str, str]:
    """consumer uuid -> host, for tests and audits."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(allocations.c.consumer_uuid, compute_nodes.c.host)
            .join(compute_nodes,
                  compute_nodes.c.id == allocations.c.node_id))
        return {u: h for u, h in rows}
