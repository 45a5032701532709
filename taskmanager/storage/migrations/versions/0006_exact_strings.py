"""Strings compare exactly on MariaDB/MySQL too, and hold any character.

Tables took the database's default character set and collation. The usual defaults ignore case
(and utf8mb4_bin still ignores trailing spaces), so "Order-1" and "order-1 " were one
idempotency key there, and a latin1 database refused four-byte characters. Every table becomes
utf8mb4 with the NO PAD binary collation, as SQLite and PostgreSQL compare. Each table is
rewritten, under a lock that holds writes back while it runs. Nothing changes elsewhere.

Downgrading keeps the exact comparison: the code of the revisions before works with it, and a
case-insensitive collation could refuse the keys it now holds as duplicates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ["tasks", "workers", "task_types", "api_keys", "task_events", "task_tallies"]
# Converting from a one-byte character set widens TEXT to MEDIUMTEXT to keep its byte size;
# these hold at most 2,000 characters, which TEXT in utf8mb4 always holds, so they stay TEXT.
KEEP_TEXT = {"task_types": "description", "task_events": "message"}


def upgrade() -> None:
    dialect = op.get_context().dialect
    if dialect.name not in ("mysql", "mariadb"):
        return
    # Frozen here rather than read from the schema module: this revision always does the same.
    collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    for table in TABLES:
        keep = f", MODIFY {KEEP_TEXT[table]} TEXT NULL" if table in KEEP_TEXT else ""
        op.execute(
            f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}{keep}"
        )


def downgrade() -> None:
    pass
