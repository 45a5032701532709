"""A task's error holds the 65,536 characters a fail accepts on MariaDB/MySQL too.

TEXT there holds 65,535 bytes, and one character may take four; LONGTEXT holds them all.
PostgreSQL's and SQLite's TEXT have no such limit: nothing changes there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _retype_error(new: sa.types.TypeEngine[str], old: sa.types.TypeEngine[str]) -> None:
    if op.get_context().dialect.name in ("mysql", "mariadb"):
        op.alter_column("tasks", "error", type_=new, existing_type=old, existing_nullable=True)


def upgrade() -> None:
    _retype_error(mysql.LONGTEXT(), sa.Text())


def downgrade() -> None:
    _retype_error(sa.Text(), mysql.LONGTEXT())
