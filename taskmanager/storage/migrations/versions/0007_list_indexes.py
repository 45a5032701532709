"""Indexes that give the task list its newest-first order under each filter.

Without them a filtered page sorts every matching task first: on a table of 1,000,000 tasks,
`?status=completed` took 0.8 s on SQLite where the unfiltered page took 1 ms.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_status_seq", "tasks", ["status", "seq"])
    op.create_index("ix_tasks_type_status_seq", "tasks", ["type", "status", "seq"])
    op.create_index("ix_tasks_worker_status_seq", "tasks", ["worker_id", "status", "seq"])
    op.drop_index("ix_tasks_worker", table_name="tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_worker", "tasks", ["worker_id", "status"])
    op.drop_index("ix_tasks_worker_status_seq", table_name="tasks")
    op.drop_index("ix_tasks_type_status_seq", table_name="tasks")
    op.drop_index("ix_tasks_status_seq", table_name="tasks")
