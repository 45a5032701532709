"""What a backend plans for a query: the text of its EXPLAIN, to check which index it walks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Executable, text

from taskmanager.storage import SQLStore

# Words of each backend's plan for "sorts the rows itself" (rather than reading them in order).
SORTING = ("TEMP B-TREE", "filesort", "Sort Key")


def plan_of(conn: Connection, store: SQLStore, query: Executable) -> str:
    options = {"literal_binds": True, "render_postcompile": True}
    sql = str(query.compile(dialect=store.engine.dialect, compile_kwargs=options))
    if store.dialect == "sqlite":
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql))
        return "\n".join(str(row[3]) for row in rows)
    if store.dialect == "postgresql":
        # Small test tables with fickle statistics make a scan and a sort look cheapest; ask
        # whether an index can give the order (a sort stays possible when none can).
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_sort = off"))
        return "\n".join(str(row[0]) for row in conn.execute(text("EXPLAIN " + sql)))
    # Each step's row, possible_keys included: on the small tables of a test MariaDB's choice
    # among the possible indexes is arbitrary.
    rows: Any = conn.execute(text("EXPLAIN " + sql))
    return "\n".join(str(dict(row._mapping)) for row in rows)
