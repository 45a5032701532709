"""How many tasks each (type, status) has, kept by the writes that change it.

Every transaction that inserts, deletes or changes the status of tasks adds its changes to
`task_counts` before it commits, one row per (type, status) it moved: `add` with the deltas. Each
connection writes rows of its own slot (PostgreSQL's backend pid, MariaDB/MySQL's connection id,
0 on SQLite, which has one writer at a time), so concurrent writers never wait on one counter
row, and a count is the sum over the slots: a read costs the number of (type, status, slot) rows,
not the number of tasks. Folding moves the rows of connections that have closed into slot 0, so
that the rows do not pile up as connections come and go.

Triggers would keep the same counts without the writes' help, but a row trigger on `tasks`
doubled the cost of SQLite's claim and complete statements, where these add one statement per
transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, text

from taskmanager.storage import bulk
from taskmanager.storage.schema import task_counts

# Fold once the counts are spread over more rows than this.
FOLD_AFTER_ROWS = 2000

# Driver SQL (`?` markers): every write transaction runs it, and through SQLAlchemy's text() it
# cost 2.5 times as much.
_ADD = {
    "sqlite": "INSERT INTO task_counts (type, status, slot, n) VALUES (?, ?, 0, ?)"
    " ON CONFLICT (type, status, slot) DO UPDATE SET n = n + excluded.n",
    "postgresql": "INSERT INTO task_counts (type, status, slot, n)"
    " VALUES (?, ?, pg_backend_pid(), ?)"
    " ON CONFLICT (type, status, slot) DO UPDATE SET n = task_counts.n + excluded.n",
    "mysql": "INSERT INTO task_counts (type, status, slot, n)"
    " VALUES (?, ?, CONNECTION_ID(), ?) ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
}
_ADD["mariadb"] = _ADD["mysql"]

# Deltas of one transaction: tasks gained (+) or lost (-) by each (type, status).
Deltas = Counter[tuple[str, str]]


def add(conn: Connection, deltas: Deltas) -> None:
    """Add one transaction's changes to its connection's counts (in key order, no zeros)."""
    rows = [(type_, str(status), n) for (type_, status), n in sorted(deltas.items()) if n]
    if rows:
        bulk.execute_many(conn, bulk.driver_sql(conn, _ADD[conn.dialect.name]), rows)


def moved(types: Iterable[str], old: str | None, new: str | None) -> Deltas:
    """The deltas of tasks of these types (one per task) that went from `old` to `new`.

    None stands for outside the table: `old=None` for inserted tasks, `new=None` for deleted.
    """
    deltas: Deltas = Counter()
    for type_, n in Counter(types).items():  # counted in C: most tasks of a batch share a type
        if old is not None:
            deltas[(type_, old)] -= n
        if new is not None:
            deltas[(type_, new)] += n
    return deltas


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
