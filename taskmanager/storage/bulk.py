"""Many rows in one driver call, without SQLAlchemy's work for each row and parameter.

The hot writes (the tasks and events of a create, the leases of a claim, the completions) run
one statement for many rows. Through SQLAlchemy, each row's parameters pass through its
compiled-parameter building and a bind processor per value: on SQLite that was a third of the
store's time for a batch create. These statements are plain SQL in the driver's parameter style,
with values the driver takes as they are: on SQLite, instants as the text SQLAlchemy stores (so
that reads and comparisons through SQLAlchemy see the same), elsewhere the driver's own. On
SQLite they go to the driver's connection itself, past SQLAlchemy's execution, and write up to
a hundred rows with one statement (a multi-row VALUES list): a statement run once per row cost
SQLite a fifth (UPDATE) to two fifths (INSERT) more per row.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache, lru_cache
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, DateTime, Select, Table, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format: microseconds always written.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


@cache
def _marker(paramstyle: str) -> str:
    if paramstyle == "qmark":
        return "?"
    if paramstyle in ("format", "pyformat"):
        return "%s"
    raise ValueError(f"unsupported parameter style {paramstyle!r}")  # pragma: no cover


def driver_sql(conn: Connection, sql: str) -> str:
    """`sql` written with `?` markers, in the driver's parameter style."""
    marker = _marker(conn.dialect.paramstyle)
    return sql if marker == "?" else _percent(sql)


@cache
def _percent(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def execute_many(
    conn: Connection, sql: str, rows: Sequence[Sequence[Any]], times: Sequence[int] = ()
) -> None:
    """Run `sql` (in the driver's style) once per row of positional values; `times` are the
    positions that hold instants (naive UTC datetimes or None)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        if times:
            rows = _sqlite_times(rows, times)
        _raw(conn, sql, rows, many=True)
        return
    conn.exec_driver_sql(sql, list(map(tuple, rows)))


@dataclass(frozen=True)
class RowsUpdate:
    """An UPDATE of many rows, each with values of its own, and values they all share.

    `each` updates one row (`?` markers): the shared values come first, then the row's.
    `joined` is the same for many rows on SQLite: `{rows}` in it stands for a VALUES list of
    the rows' own values, which it reads as `v.column1`, `v.column2` ... in their order.
    """

    each: str
    joined: str

    @classmethod
    def of(
        cls, table: str, shared: str, own: Sequence[str], key: str, where: str = ""
    ) -> RowsUpdate:
        """Set `shared` (assignments, `?` for the shared values) and each row's `own` columns
        in the row of `table` whose `key` is the row's last value, where `where` also holds."""
        also = f" AND {where}" if where else ""
        each = ", ".join(f"{column} = ?" for column in own)
        joined = ", ".join(f"{column} = v.column{i}" for i, column in enumerate(own, 1))
        return cls(
            each=f"UPDATE {table} SET {shared}, {each} WHERE {key} = ?{also}",
            joined=f"UPDATE {table} SET {shared}, {joined} FROM (VALUES {{rows}}) AS v"
            f" WHERE {table}.{key} = v.column{len(own) + 1}{also}",
        )

    def run(
        self,
        conn: Connection,
        shared: Sequence[Any],
        rows: Sequence[Sequence[Any]],
        times: Sequence[int] = (),
    ) -> None:
        """Update `rows`; `times` are the positions of instants in shared values + a row's."""
        if conn.dialect.name != "sqlite":
            execute_many(
                conn, driver_sql(conn, self.each), [[*shared, *row] for row in rows], times
            )
            return
        count = len(shared)
        shared_times = [index for index in times if index < count]
        if shared_times:
            shared = _sqlite_times([shared], shared_times)[0]
        own = [index - count for index in times if index >= count]
        _in_chunks(conn, rows, own, lambda width, n: _joined(self.joined, width, n), shared)


# A statement is prepared once for each number of rows it writes: any count is written as
# statements of these sizes (100 rows: one statement; 99: eleven).
_ROWS_PER_STATEMENT = (100, 20, 5, 1)


def _in_chunks(
    conn: Connection,
    rows: Sequence[Sequence[Any]],
    times: Sequence[int],
    statement: Callable[[int, int], str],
    leading: Sequence[Any] = (),
) -> None:
    """On SQLite, write `rows` with a statement per chunk of `_ROWS_PER_STATEMENT`:
    `statement(width, count)` for `count` rows of `width` values, given `leading` values
    first, then the rows' (their instants, at `times`, as SQLAlchemy writes them)."""
    if times:
        rows = _sqlite_times(rows, times)
    start = 0
    for size in _ROWS_PER_STATEMENT:
        while len(rows) - start >= size:
            chunk = rows[start : start + size]
            flat = [value for row in chunk for value in row]
            _raw(conn, statement(len(chunk[0]), size), [*leading, *flat], many=False)
            start += size


@cache
def _row_markers(width: int) -> str:
    return "(" + ", ".join(["?"] * width) + ")"


@lru_cache(maxsize=64)
def _joined(template: str, width: int, count: int) -> str:
    return template.replace("{rows}", ", ".join([_row_markers(width)] * count))


def _raw(conn: Connection, sql: str, rows: Any, many: bool) -> sqlite3.Cursor:
    """On SQLite, straight to the driver, in the transaction `conn` began: SQLAlchemy's own
    execution (its context, events and result) cost more than the statement. Errors come out
    as SQLAlchemy's, as they would have through it."""
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    try:
        return dbapi.executemany(sql, rows) if many else dbapi.execute(sql, rows)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, rows, exc, sqlite3.Error) from exc


def select(conn: Connection, query: Select[Any], params: Mapping[str, Any]) -> list[Any]:
    """The rows of `query`, each a tuple whose columns can also be read by name (`_fields`
    names them). On SQLite the query, compiled once, goes to the driver (`_raw`), and its
    instants are read back as SQLAlchemy would have. Only for queries with plain columns and
    no expanding IN (`one_of` instead)."""
    if conn.dialect.name != "sqlite":
        return list(conn.execute(query, params))
    compiled = _compiled(query, conn.dialect)
    fixed = compiled.fixed
    values = tuple(
        _driver_value(params[name] if name in params else fixed[name]) for name in compiled.names
    )
    found = _raw(conn, compiled.sql, values, many=False).fetchall()
    make, times = compiled.row._make, compiled.times
    if not times:
        return [make(row) for row in found]
    parse = datetime.fromisoformat
    rows = []
    for row in found:
        columns = list(row)
        for index in times:
            if columns[index] is not None:
                columns[index] = parse(columns[index])
        rows.append(make(columns))
    return rows


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order of their markers
    fixed: dict[str, Any]  # the values the query holds itself
    row: Any  # a namedtuple of the columns
    times: tuple[int, ...]  # the columns that hold instants


@lru_cache(maxsize=256)  # the queries are built once too (per batch size at most)
def _compiled(query: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = query.compile(dialect=dialect)
    assert "POSTCOMPILE" not in compiled.string, "an expanding IN: use one_of"
    columns = list(query.selected_columns)
    return _Compiled(
        sql=compiled.string,
        names=tuple(compiled.positiontup or ()),
        fixed={name: bind.value for name, bind in compiled.binds.items()},
        row=namedtuple("Row", [column.key for column in columns]),  # type: ignore[misc]
        times=tuple(i for i, c in enumerate(columns) if isinstance(c.type, DateTime)),
    )


def _driver_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _sqlite_time(value)
    if isinstance(value, Enum):
        return value.value
    return value


class Counted(Protocol):
    """What a write statement tells: how many rows it changed."""

    @property
    def rowcount(self) -> int: ...


def execute(
    conn: Connection, sql: str, values: Sequence[Any], times: Sequence[int] = ()
) -> Counted:
    """Run `sql` (in the driver's style) once with these positional values; `times` as in
    `execute_many`."""
    if conn.dialect.name == "sqlite":
        if times:
            values = _sqlite_times([values], times)[0]
        return _raw(conn, sql, tuple(values), many=False)
    return conn.exec_driver_sql(sql, tuple(values))


def _sqlite_times(rows: Sequence[Sequence[Any]], times: Sequence[int]) -> list[list[Any]]:
    written: dict[datetime, str] = {}  # the rows of one call mostly share their instants
    out = []
    for row in rows:
        values = list(row)
        for index in times:
            value = values[index]
            if value is not None:
                text = written.get(value)
                if text is None:
                    text = written[value] = _sqlite_time(value)
                values[index] = text
        out.append(values)
    return out


def one_of(column: ColumnElement[Any], count: int) -> ColumnElement[bool]:
    """`column IN (:<name>0, :<name>1, ...)` with `count` parameters named after the column, for
    a statement built once per count: an expanding IN is written out again at every execution.
    `one_of_params` gives the values."""
    name = column.key
    return column.in_([bindparam(f"{name}{index}", type_=column.type) for index in range(count)])


def one_of_params(column: ColumnElement[Any], values: Sequence[Any]) -> dict[str, Any]:
    """The parameters of `one_of(column, len(values))`."""
    name = column.key
    return {f"{name}{index}": value for index, value in enumerate(values)}


@cache
def _insert(paramstyle: str, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[int, ...]]:
    marks = ", ".join([_marker(paramstyle)] * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    times = tuple(
        index for index, name in enumerate(columns) if isinstance(table.c[name].type, DateTime)
    )
    return sql, times


def insert_many(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows (dicts with at least `columns`) with one driver call."""
    insert_values(conn, table, columns, [[row.get(column) for column in columns] for row in rows])


def insert_values(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows of positional values, one for each of `columns`, with one driver call
    (on SQLite, a statement per hundred rows)."""
    sql, times = _insert(conn.dialect.paramstyle, table, columns)
    if conn.dialect.name != "sqlite":
        execute_many(conn, sql, rows, times)
        return
    _in_chunks(conn, rows, times, lambda width, count: _multi_insert(sql, width, count))


@lru_cache(maxsize=64)
def _multi_insert(sql: str, width: int, count: int) -> str:
    """`sql`, an INSERT of one row of `width` `?` markers, for `count` rows."""
    return sql + ", ".join([""] + [_row_markers(width)] * (count - 1))
