"""The claim reads tasks in claim order straight from an index, on every backend.

Without it a claim sorts every due task first, and slows down as the backlog grows.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Connection

from taskmanager.storage import SQLStore
from taskmanager.storage.claiming import claimable
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
