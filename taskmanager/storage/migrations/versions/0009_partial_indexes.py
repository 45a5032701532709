"""The indexes that serve one status hold only the tasks of that status, on SQLite and PostgreSQL.

The claim indexes and the due-time indexes hold pending tasks, the lease index processing ones,
the completion-time index finished ones, the list's worker index tasks that have a worker. Before,
every change of status moved the task within all six status indexes; now a claim takes it out of
the pending ones and into the lease index, and a completion out of that one and into the
completion-time index; a create no longer writes the tasks it makes into the lease, completion
and worker indexes. The queries that use the status indexes name the status in their SQL
(`schema.status_is`), as both planners require. MariaDB/MySQL has no partial indexes: nothing
changes there.

Rebuilding the indexes reads the tasks table once per index: seconds for 1,000,000 tasks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"
PROCESSING = "status = 'processing'"
FINISHED = "completed_at IS NOT NULL"
HELD = "worker_id IS NOT NULL"

# name: (columns, the tasks it holds)
INDEXES: dict[str, tuple[Sequence[str | sa.TextClause], str]] = {
    "ix_tasks_claim": (["status", sa.text("priority DESC"), "run_at", "seq"], PENDING),
    "ix_tasks_type_claim": (["type", "status", sa.text("priority DESC"), "run_at", "seq"], PENDING),
    "ix_tasks_status_run_at": (["status", "run_at"], PENDING),
    "ix_tasks_type_status_run_at": (["type", "status", "run_at"], PENDING),
    "ix_tasks_status_lease": (["status", "lease_expires_at"], PROCESSING),
    "ix_tasks_status_completed": (["status", "completed_at"], FINISHED),
    "ix_tasks_worker_status_seq": (["worker_id", "status", "seq"], HELD),
}


def _partial() -> bool:
    return op.get_bind().dialect.name in ("sqlite", "postgresql")


def upgrade() -> None:
    if not _partial():
        return
    for name, (columns, condition) in INDEXES.items():
        op.drop_index(name, table_name="tasks")
        where = sa.text(condition)
        op.create_index(name, "tasks", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    if not _partial():
        return
    for name, (columns, _condition) in INDEXES.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(name, "tasks", columns)
