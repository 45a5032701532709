"""The tables, as SQLAlchemy Core metadata. Migrations create them; queries read this."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    literal_column,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from taskmanager.status import TaskStatus

metadata = MetaData()

# Naive UTC instants with microseconds on every backend.
Instant = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# SQLite only aliases the rowid for INTEGER PRIMARY KEY.
Seq = BigInteger().with_variant(Integer(), "sqlite")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def exact_collation(dialect: Dialect) -> str:
    """The MariaDB/MySQL collation that compares like SQLite and PostgreSQL: byte for byte.

    The servers' defaults ignore case and accents, and even utf8mb4_bin pads with spaces, so
    "a" and "a " would be one idempotency key; the NO PAD binary collations count every byte.
    """
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


class Exact(TypeDecorator[str]):
    """A string compared exactly on every backend, in utf8mb4 on MariaDB/MySQL.

    Tables created by later migrations must say so too (`mysql_charset`, `mysql_collate`):
    a new table takes the database's default character set and collation.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            collation = exact_collation(dialect)
            return mysql.VARCHAR(self.length, charset="utf8mb4", collation=collation)
        return String(self.length)


tasks = Table(
    "tasks",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("id", Exact(36), nullable=False, unique=True),
    Column("type", Exact(200), nullable=False),
    Column("status", Exact(16), nullable=False),
    Column("params", LongText, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("run_at", Instant, nullable=False),
    Column("claimed_at", Instant),
    Column("completed_at", Instant),
    Column("worker_id", Exact(200)),
    Column("result", LongText),
    Column("error", LongText),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_expires_at", Instant),
    Column("lease_token", Exact(64)),
    Column("lease_seconds", Float),
    Column("lease_granted_seconds", Float),
    Column("progress", Float),
    Column("progress_message", Exact(1000)),
    Column("idempotency_key", Exact(200), unique=True),
    Column("request_hash", Exact(64)),
)


def status_is(status: TaskStatus) -> ColumnElement[bool]:
    """`status = '<status>'`, the status written into the SQL rather than bound: SQLite's and
    PostgreSQL's planners use an index of one status (below) only for a query that names it."""
    return tasks.c.status == literal_column(f"'{status.value}'")


def _only(condition: str) -> dict[str, Any]:
    """Keyword arguments of an `Index` that holds only the tasks meeting `condition`, on SQLite
    and PostgreSQL. MariaDB/MySQL has no partial indexes and indexes every task."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


# The indexes that serve one status hold only the tasks of that status where the database
# allows it: a claim then takes its tasks out of the pending ones and puts them in the lease
# index, and a completion takes them out of that one, where each change of status moved the task
# within every one of them. Queries reach them with `status_is`.
PENDING_ONLY = "status = 'pending'"
PROCESSING_ONLY = "status = 'processing'"
FINISHED_ONLY = "completed_at IS NOT NULL"
HELD_ONLY = "worker_id IS NOT NULL"
Index(
    "ix_tasks_claim",
    tasks.c.status,
    tasks.c.priority.desc(),
    tasks.c.run_at,
    tasks.c.seq,
    **_only(PENDING_ONLY),
)
Index(
    "ix_tasks_type_claim",
    tasks.c.type,
    tasks.c.status,
    tasks.c.priority.desc(),
    tasks.c.run_at,
    tasks.c.seq,
    **_only(PENDING_ONLY),
)
Index("ix_tasks_status_run_at", tasks.c.status, tasks.c.run_at, **_only(PENDING_ONLY))
# The oldest due pending task of one type (/metrics, the dashboard, a long poll's next wake-up).
Index(
    "ix_tasks_type_status_run_at",
    tasks.c.type,
    tasks.c.status,
    tasks.c.run_at,
    **_only(PENDING_ONLY),
)
Index("ix_tasks_status_lease", tasks.c.status, tasks.c.lease_expires_at, **_only(PROCESSING_ONLY))
# Finished tasks by status and age (retention, /stats); any comparison of completed_at implies
# it is not NULL, so those queries need no literal.
Index(
    "ix_tasks_status_completed",
    tasks.c.status,
    tasks.c.completed_at,
    **_only(FINISHED_ONLY),
)
# The task list, newest first, under each filter (storage/listing.py).
Index("ix_tasks_status_seq", tasks.c.status, tasks.c.seq)
Index("ix_tasks_type_status_seq", tasks.c.type, tasks.c.status, tasks.c.seq)
# Tasks never claimed have no worker: a filter on a worker implies one, so they stay out.
Index(
    "ix_tasks_worker_status_seq",
    tasks.c.worker_id,
    tasks.c.status,
    tasks.c.seq,
    **_only(HELD_ONLY),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", Exact(200), primary_key=True),
    Column("first_seen_at", Instant, nullable=False),
    Column("last_seen_at", Instant, nullable=False),
    Column("tasks_completed", BigInteger, nullable=False, default=0),
    Column("tasks_failed", BigInteger, nullable=False, default=0),
    Column("processing_seconds_total", Float, nullable=False, default=0.0),
)

task_types = Table(
    "task_types",
    metadata,
    Column("type", Exact(200), primary_key=True),
    Column("params_schema", LongText),
    Column("max_attempts", Integer),
    Column("lease_seconds", Float),
    Column("priority", Integer),
    Column("description", Text),
    Column("created_at", Instant, nullable=False),
    Column("updated_at", Instant, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Exact(36), primary_key=True),
    Column("name", Exact(200), nullable=False),
    Column("role", Exact(16), nullable=False),
    Column("key_hash", Exact(64), nullable=False, unique=True),
    Column("prefix", Exact(16), nullable=False),
    Column("created_at", Instant, nullable=False),
    Column("revoked_at", Instant),
)

# What happened to each task, written in the transaction that made the change: the task page's
# history and the dashboard's charts read it.
task_events = Table(
    "task_events",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("task_id", Exact(36), nullable=False),
    Column("type", Exact(200), nullable=False),
    Column("event", Exact(16), nullable=False),
    Column("at", Instant, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("worker_id", Exact(200)),
    Column("message", Text),
)
Index("ix_task_events_task", task_events.c.task_id, task_events.c.seq)
Index("ix_task_events_at", task_events.c.at)

# Counts of tasks that left the tasks table (purged) or the failed state (retried by hand), so
# that the created/completed/failed counters of /metrics never go down.
task_tallies = Table(
    "task_tallies",
    metadata,
    Column("type", Exact(200), primary_key=True),
    Column("outcome", Exact(16), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# How many tasks each (type, status) has, kept by every write that changes it (storage/counts.py):
# each database connection writes to its own slot, and a count is the sum over the slots.
task_counts = Table(
    "task_counts",
    metadata,
    Column("type", Exact(200), primary_key=True),
    Column("status", Exact(16), primary_key=True),
    Column("slot", BigInteger, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)
