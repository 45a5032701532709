"""The claim reads tasks in claim order straight from an index, on every backend.

Without it a claim sorts every due task first, and slows down as the backlog grows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Connection, func, select

from taskmanager.storage import SQLStore
from taskmanager.storage.claiming import _FIRST_RUN_AT_OF_TYPE, _expired, claimable
from taskmanager.storage.schema import tasks
from tests.storage.plans import SORTING, plan_of


def _plan(conn: Connection, store: SQLStore, types: list[str] | None) -> str:
    skip_locked = store.dialect != "sqlite"
    named = {f"type{index}": type_ for index, type_ in enumerate(types or ())}
    values = {"now": datetime(2030, 1, 1), "limit": 10, **named}
    return plan_of(conn, store, claimable(len(named), skip_locked).params(values))


@pytest.mark.parametrize(
    ("types", "index"), [(None, "ix_tasks_claim"), (["mail.send"], "ix_tasks_type_claim")]
)
def test_claim_walks_an_index_in_claim_order(
    store: SQLStore, types: list[str] | None, index: str
) -> None:
    with store.engine.begin() as conn:
        plan = _plan(conn, store, types)
    if store.dialect == "postgresql" and types:
        # On a small table PostgreSQL may walk the untyped claim index and filter the type:
        # the same claim order, no sort.
        assert index in plan or "ix_tasks_claim" in plan
    else:
        assert index in plan
    for sorting in SORTING:
        assert sorting not in plan


def _expired_plan(conn: Connection, store: SQLStore) -> str:
    query = _expired(store.dialect != "sqlite").params(now=datetime(2030, 1, 1))
    return plan_of(conn, store, query)


def _first_run_at_plan(conn: Connection, store: SQLStore) -> str:
    query = _FIRST_RUN_AT_OF_TYPE.params(type="mail.send", before=datetime(2030, 1, 1))
    return plan_of(conn, store, query)


def _finished_since_plan(conn: Connection, store: SQLStore) -> str:
    since = datetime(2030, 1, 1)
    query = select(func.count()).where(tasks.c.status == "completed", tasks.c.completed_at >= since)
    return plan_of(conn, store, query)


# Each of these indexes holds the tasks of one status only, where the database has partial
# indexes: a query that could not prove it asks for that status would read another index.
@pytest.mark.parametrize(
    ("plan", "index"),
    [
        (_expired_plan, "ix_tasks_status_lease"),
        (_first_run_at_plan, "ix_tasks_type_status_run_at"),
        (_finished_since_plan, "ix_tasks_status_completed"),
    ],
)
def test_the_checks_of_each_status_read_that_status_s_index(
    store: SQLStore, plan: Callable[[Connection, SQLStore], str], index: str
) -> None:
    with store.engine.begin() as conn:
        assert index in plan(conn, store)
