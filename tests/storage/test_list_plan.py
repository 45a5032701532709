"""The task list reads its page from an index in newest-first order, under every filter.

Without these a filtered page sorts every matching task first: on a table of a million tasks
that is most of a second for `?status=completed`.
"""

from __future__ import annotations

import pytest

from taskmanager.status import TaskStatus
from taskmanager.storage import SQLStore
from taskmanager.storage.base import TaskFilter
from taskmanager.storage.listing import page_query
from tests.storage.plans import SORTING, plan_of

COMPLETED = TaskStatus.COMPLETED
LIST_INDEXES = ("ix_tasks_status_seq", "ix_tasks_type_status_seq", "ix_tasks_worker_status_seq")


def _walks(plan: str, store: SQLStore, index: str) -> bool:
    if store.dialect == "postgresql":
        # On a test's small table PostgreSQL may take either of two indexes in `seq` order.
        return any(name in plan for name in LIST_INDEXES)
    return index in plan


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (TaskFilter(status=COMPLETED), "ix_tasks_status_seq"),
        (TaskFilter(status=COMPLETED, type="mail.send"), "ix_tasks_type_status_seq"),
        (TaskFilter(status=COMPLETED, worker_id="w1"), "ix_tasks_worker_status_seq"),
    ],
)
def test_a_page_with_a_status_walks_an_index_and_sorts_nothing(
    store: SQLStore, where: TaskFilter, index: str
) -> None:
    with store.engine.begin() as conn:
        plan = plan_of(conn, store, page_query(where, 51, before_seq=1000))
    assert _walks(plan, store, index)
    if store.dialect == "mysql":  # told which index to use, since it may choose badly
        assert f"'key': '{index}'" in plan
    for sorting in SORTING:
        assert sorting not in plan


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (TaskFilter(type="mail.send"), "ix_tasks_type_status_seq"),
        (TaskFilter(worker_id="w1"), "ix_tasks_worker_status_seq"),
    ],
)
def test_a_page_without_a_status_walks_the_index_once_per_status(
    store: SQLStore, where: TaskFilter, index: str
) -> None:
    # The newest `limit` of each status are merged: a sort of at most 5 x limit rows.
    with store.engine.begin() as conn:
        plan = plan_of(conn, store, page_query(where, 51, before_seq=None))
    if store.dialect == "postgresql":
        assert plan.count("Index Scan") >= len(TaskStatus) and "Seq Scan" not in plan
    else:
        assert plan.count(index) >= len(TaskStatus)
    if store.dialect == "mysql":
        assert plan.count(f"'key': '{index}'") == len(TaskStatus)
