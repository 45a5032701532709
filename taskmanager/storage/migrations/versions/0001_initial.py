"""Tasks, workers and task types.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision: later schema changes get new revisions.
Instant = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", LongText, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("run_at", Instant, nullable=False),
        sa.Column("claimed_at", Instant),
        sa.Column("completed_at", Instant),
        sa.Column("worker_id", sa.String(200)),
        sa.Column("result", LongText),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("lease_expires_at", Instant),
        sa.Column("lease_token", sa.String(64)),
        sa.Column("lease_seconds", sa.Float),
        sa.Column("progress", sa.Float),
        sa.Column("progress_message", sa.String(1000)),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("request_hash", sa.String(64)),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(
        "ix_tasks_claim", "tasks", ["status", sa.text("priority DESC"), "run_at", "seq"]
    )
    op.create_index(
        "ix_tasks_type_claim",
        "tasks",
        ["type", "status", sa.text("priority DESC"), "run_at", "seq"],
    )
    op.create_index("ix_tasks_status_run_at", "tasks", ["status", "run_at"])
    op.create_index("ix_tasks_status_lease", "tasks", ["status", "lease_expires_at"])
    op.create_index("ix_tasks_status_completed", "tasks", ["status", "completed_at"])
    op.create_index("ix_tasks_worker", "tasks", ["worker_id", "status"])
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("first_seen_at", Instant, nullable=False),
        sa.Column("last_seen_at", Instant, nullable=False),
        sa.Column("tasks_completed", sa.BigInteger, nullable=False),
        sa.Column("tasks_failed", sa.BigInteger, nullable=False),
        sa.Column("processing_seconds_total", sa.Float, nullable=False),
    )
    op.create_table(
        "task_types",
        sa.Column("type", sa.String(200), primary_key=True),
        sa.Column("params_schema", LongText),
        sa.Column("max_attempts", sa.Integer),
        sa.Column("lease_seconds", sa.Float),
        sa.Column("priority", sa.Integer),
        sa.Column("description", sa.Text),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_types")
    op.drop_table("workers")
    op.drop_table("tasks")
