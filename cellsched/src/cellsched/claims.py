"""Atomic claims: the only place where resources are consumed.

Many scheduler threads in many processes read the same host states and
race for the same hosts.  Correctness never depends on those snapshots:
a claim is one conditional UPDATE that only succeeds if the node still has
room *at the time of the write*, plus the allocation row, in one
transaction.  Losing a race is normal and means "try the next candidate".
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from cellsched.cells import write_transaction
from cellsched.inventory import utcnow
from cellsched.request import Flavor
from cellsched.schema import allocations, compute_nodes

LOG = logging.getLogger(__name__)


class ConsumerAlreadyAllocated(Exception):
    """The instance uuid already holds an allocation in this cell."""


def _amount(name: str) -> sa.BindParameter:
    # Not named after a column: an UPDATE would take a parameter named
    # like one of its table's columns as a value to SET.
    return sa.bindparam(f"claim_{name}", type_=sa.Integer)


_c = compute_nodes.c
_vcpus, _memory_mb, _disk_gb = map(_amount, ("vcpus", "memory_mb", "disk_gb"))
# Built once: constructing this UPDATE and its cache key on every claim was
# a visible share of a request's CPU on the embedded stack.
_CLAIM = (
    compute_nodes.update()
    .where(_c.id == sa.bindparam("claim_node_id"), _c.enabled == sa.true(),
           _c.vcpus_used + _vcpus <= _c.vcpus,
           _c.memory_mb_used + _memory_mb <= _c.memory_mb,
           _c.disk_gb_used + _disk_gb <= _c.disk_gb)
    .values(vcpus_used=_c.vcpus_used + _vcpus,
            memory_mb_used=_c.memory_mb_used + _memory_mb,
            disk_gb_used=_c.disk_gb_used + _disk_gb,
            updated_at=sa.bindparam("claim_now")))
_ALLOCATE = allocations.insert()


def claim(engine: sa.Engine, node_id: int, consumer_uuid: str,
          flavor: Flavor) -> bool:
    """Consume ``flavor`` on node ``node_id`` for ``consumer_uuid``.

    Returns True if claimed, False if the node no longer has room (or was
    disabled or deleted) -- a lost race.  Raises ConsumerAlreadyAllocated if
    the consumer already has an allocation here; nothing is changed then.
    """
    now = utcnow()
    try:
        with write_transaction(engine) as conn:
            if conn.execute(_CLAIM, {
                    "claim_node_id": node_id, "claim_vcpus": flavor.vcpus,
                    "claim_memory_mb": flavor.memory_mb,
                    "claim_disk_gb": flavor.disk_gb, "claim_now": now,
            }).rowcount != 1:
                return False
            conn.execute(_ALLOCATE, {
                "consumer_uuid": consumer_uuid, "node_id": node_id,
                "vcpus": flavor.vcpus, "memory_mb": flavor.memory_mb,
                "disk_gb": flavor.disk_gb, "created_at": now})
    except IntegrityError:
        # The transaction was rolled back: the counters are untouched.
        raise ConsumerAlreadyAllocated(consumer_uuid) from None
    return True


def release(engine: sa.Engine, consumer_uuid: str) -> bool:
    """Undo a claim: delete the allocation and give the resources back.

    Used when a multi-instance request cannot be completely placed, so the
    instances already claimed for it do not leak.  Returns False if the
    consumer had no allocation here.
    """
    a, c = allocations.c, compute_nodes.c
    with write_transaction(engine) as conn:
        row = conn.execute(
            sa.select(a.node_id, a.vcpus, a.memory_mb, a.disk_gb)
            .where(a.consumer_uuid == consumer_uuid)
            .with_for_update()).first()
        if row is None:
            return False
        node_id, vcpus, memory_mb, disk_gb = row
        deleted = conn.execute(allocations.delete().where(
            a.consumer_uuid == consumer_uuid)).rowcount
        if deleted != 1:
            return False
        conn.execute(
            compute_nodes.update().where(c.id == node_id)
            .values(vcpus_used=c.vcpus_used - vcpus,
                    memory_mb_used=c.memory_mb_used - memory_mb,
                    disk_gb_used=c.disk_gb_used - disk_gb,
                    updated_at=utcnow()))
    return True
