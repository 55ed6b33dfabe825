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


def claim(engine: sa.Engine, node_id: int, consumer_uuid: str,
          flavor: Flavor) -> bool:
    """Consume ``flavor`` on node ``node_id`` for ``consumer_uuid``.

    Returns True if claimed, False if the node no longer has room (or was
    disabled or deleted) -- a lost race.  Raises ConsumerAlreadyAllocated if
    the consumer already has an allocation here; nothing is changed then.
    """
    c = compute_nodes.c
    update = (
        compute_nodes.update()
        .where(c.id == node_id, c.enabled == sa.true(),
               c.vcpus_used + flavor.vcpus <= c.vcpus,
               c.memory_mb_used + flavor.memory_mb <= c.memory_mb,
               c.disk_gb_used + flavor.disk_gb <= c.disk_gb)
        .values(vcpus_used=c.vcpus_used + flavor.vcpus,
                memory_mb_used=c.memory_mb_used + flavor.memory_mb,
                disk_gb_used=c.disk_gb_used + flavor.disk_gb,
                updated_at=utcnow()))
    try:
        with write_transaction(engine) as conn:
            if conn.execute(update).rowcount != 1:
                return False
            conn.execute(allocations.insert().values(
                consumer_uuid=consumer_uuid, node_id=node_id,
                vcpus=flavor.vcpus, memory_mb=flavor.memory_mb,
                disk_gb=flavor.disk_gb, created_at=utcnow()))
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
