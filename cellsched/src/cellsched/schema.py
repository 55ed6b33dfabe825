"""The two tables every cell database holds.

Resources are stored as plain integer columns on both sides (node totals,
node used counters, allocation amounts) so that a claim is one conditional
UPDATE and the invariant check is one GROUP BY, in every dialect.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: The resource classes we schedule on, in column-name form.
RESOURCES = ("vcpus", "memory_mb", "disk_gb")

compute_nodes = sa.Table(
    "compute_nodes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("host", sa.String(255), nullable=False, unique=True),
    sa.Column("availability_zone", sa.String(255), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("vcpus_used", sa.Integer, nullable=False, default=0),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("memory_mb_used", sa.Integer, nullable=False, default=0),
    sa.Column("disk_gb", sa.Integer, nullable=False),
    sa.Column("disk_gb_used", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

allocations = sa.Table(
    "allocations", metadata,
    # One allocation per consumer (instance) per cell: a retried claim for
    # the same instance cannot double-book.
    sa.Column("consumer_uuid", sa.String(36), primary_key=True),
    sa.Column("node_id", sa.Integer, sa.ForeignKey("compute_nodes.id"),
              nullable=False, index=True),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("disk_gb", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


def create_schema(engine: sa.Engine) -> None:
    """Create the tables if missing (idempotent, safe to re-run)."""
    metadata.create_all(engine)


def drop_schema(engine: sa.Engine) -> None:
    metadata.drop_all(engine)
