"""The hot statements that go straight to the driver fail, count and read as they would
through SQLAlchemy, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from taskmanager.models import TaskCreate
from taskmanager.storage import SQLStore, TaskFilter, bulk
from taskmanager.storage.creating import new_row
from taskmanager.storage.schema import tasks


def test_a_duplicate_is_sqlalchemys_integrity_error_and_undoes_the_transaction(
    store: SQLStore,
) -> None:
    (made,) = store.create_tasks([TaskCreate(type="one")])
    now = made.task.created_at.replace(tzinfo=None)
    fresh = new_row(TaskCreate(type="two"), None, now, 3)
    taken = {**new_row(TaskCreate(type="two"), None, now, 3), "id": made.task.id}

    def insert_again(conn: Connection) -> None:
        bulk.insert_many(conn, tasks, tuple(fresh), [fresh, taken])

    with pytest.raises(IntegrityError):
        store._write(insert_again)
    page, _ = store.list_tasks(TaskFilter(), 10, None)
    assert [task.type for task in page] == ["one"]  # the first insert was rolled back too


def test_a_write_tells_how_many_rows_it_changed(store: SQLStore) -> None:
    store.create_tasks([TaskCreate(type="one"), TaskCreate(type="one")])

    def retype(conn: Connection) -> int:
        statement = bulk.driver_sql(conn, "UPDATE tasks SET priority = ? WHERE type = ?")
        return bulk.execute(conn, statement, (5, "one")).rowcount

    assert store._write(retype) == 2


def test_a_read_gives_the_values_sqlalchemy_gives(store: SQLStore) -> None:
    store.create_tasks([TaskCreate(type="one", params={"n": 1}), TaskCreate(type="two")])
    (claimed,) = store.claim("w1", ["one"], 30, 1)
    query = select(tasks).where(tasks.c.type == bindparam("type")).order_by(tasks.c.seq)

    def both(conn: Connection) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        direct = [row._asdict() for row in bulk.select(conn, query, {"type": "one"})]
        through = [dict(row._mapping) for row in conn.execute(query, {"type": "one"})]
        return direct, through

    direct, through = store._write(both)
    assert direct == through
    assert [row["lease_token"] for row in direct] == [claimed.lease_token]
    assert direct[0]["lease_expires_at"] is not None  # an instant, read back as one
    assert direct[0]["claimed_at"] == claimed.claimed_at.replace(tzinfo=None)


def test_driver_and_sqlalchemy_statements_commit_or_roll_back_together(store: SQLStore) -> None:
    (made,) = store.create_tasks([TaskCreate(type="one")])

    def both(priority: int, fail: bool) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            statement = bulk.driver_sql(conn, "UPDATE tasks SET priority = ? WHERE id = ?")
            bulk.execute(conn, statement, (priority, made.task.id))
            conn.execute(update(tasks).where(tasks.c.id == made.task.id).values(max_attempts=9))
            if fail:
                raise RuntimeError("undo")

        return work

    with pytest.raises(RuntimeError):
        store._write(both(5, fail=True))
    task = store.get_task(made.task.id)
    assert (task.priority, task.max_attempts) == (0, made.task.max_attempts)
    store._write(both(7, fail=False))
    task = store.get_task(made.task.id)
    assert (task.priority, task.max_attempts) == (7, 9)
    assert store.create_tasks([TaskCreate(type="two")])[0].created  # and writes go on
