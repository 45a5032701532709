"""How many tasks each (type, status) has, read from the counts the triggers keep.

Migration 0008 adds triggers that add every insert, status change and delete of a task to
`task_counts`, in the transaction that made it. Each connection writes rows of its own slot
(PostgreSQL's backend pid, MariaDB/MySQL's connection id, 0 on SQLite), so concurrent writers
never wait on one counter row, and a count is the sum over the slots: a read costs the number of
(type, status, slot) rows, not the number of tasks. Folding moves the rows of connections that
have closed into slot 0, so that the rows do not pile up as connections come and go.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text

from taskmanager.storage.schema import task_counts

# Fold once the counts are spread over more rows than this.
FOLD_AFTER_ROWS = 2000

_FOLD_POSTGRES = text(
    "WITH gone AS ("
    " DELETE FROM task_counts WHERE slot <> 0"
    " AND slot NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)"
    " RETURNING type, status, n)"
    " INSERT INTO task_counts (type, status, slot, n)"
    " SELECT type, status, 0, SUM(n) FROM gone GROUP BY type, status"
    " ON CONFLICT (type, status, slot) DO UPDATE SET n = task_counts.n + excluded.n"
)
# Locking reads see the newest committed rows and keep them until the deletes below commit.
_CLOSED_MYSQL = text(
    "SELECT type, status, slot, n FROM task_counts WHERE slot <> 0"
    " AND slot NOT IN (SELECT ID FROM information_schema.PROCESSLIST) FOR UPDATE"
)
_ADD_MYSQL = text(
    "INSERT INTO task_counts (type, status, slot, n) VALUES (:type, :status, 0, :n)"
    " ON DUPLICATE KEY UPDATE n = n + VALUES(n)"
)
_DELETE_MYSQL = text(
    "DELETE FROM task_counts WHERE type = :type AND status = :status AND slot = :slot"
)
_READ = select(
    task_counts.c.type, task_counts.c.status, func.sum(task_counts.c.n), func.count()
).group_by(task_counts.c.type, task_counts.c.status)


@dataclass(frozen=True)
class Counts:
    """Tasks per (type, status), zeros left out, and how many rows held them."""

    by_type: dict[tuple[str, str], int]
    rows: int

    def total(self, status: str) -> int:
        return sum(count for (_, each), count in self.by_type.items() if each == status)


def read_counts(conn: Connection) -> Counts:
    by_type: dict[tuple[str, str], int] = {}
    rows = 0
    for type_, status, count, slots in conn.execute(_READ):
        rows += int(slots)
        if count:
            by_type[(type_, status)] = int(count)
    return Counts(by_type, rows)


def fold_closed_slots(conn: Connection) -> None:
    """Move the counts of connections that have closed into slot 0 (sums do not change)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_FOLD_POSTGRES)
    elif dialect in ("mysql", "mariadb"):
        closed = [row._asdict() for row in conn.execute(_CLOSED_MYSQL)]
        sums: dict[tuple[str, str], int] = {}
        for row in closed:
            key = (row["type"], row["status"])
            sums[key] = sums.get(key, 0) + int(row["n"])
        if closed:
            conn.execute(_DELETE_MYSQL, closed)
            conn.execute(
                _ADD_MYSQL, [{"type": t, "status": s, "n": n} for (t, s), n in sums.items()]
            )
