"""A task's instants are written as UTC with a Z, microseconds only when there are some."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from taskmanager.models import Task
from taskmanager.server.answers import _adapter

FIELDS: dict[str, Any] = {
    "id": "t",
    "type": "a.b",
    "status": "pending",
    "params": {},
    "priority": 0,
    "claimed_at": None,
    "completed_at": None,
    "worker_id": None,
    "result": None,
    "error": None,
    "attempts": 0,
    "max_attempts": 3,
    "lease_expires_at": None,
    "progress": None,
    "progress_message": None,
    "idempotency_key": None,
}


def _written(**instants: Any) -> dict[str, Any]:
    task = Task(**{**FIELDS, **instants})
    answer: dict[str, Any] = json.loads(_adapter(Task).dump_json(task))
    return answer


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_an_instant_is_written_as_utc_with_a_z(moment: datetime) -> None:
    utc = moment.replace(tzinfo=UTC)
    written = _written(created_at=utc, run_at=utc)
    expected = utc.isoformat().replace("+00:00", "Z")
    assert written["created_at"] == written["run_at"] == expected


def test_an_instant_given_with_an_offset_comes_back_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    written = _written(
        created_at=datetime(2030, 1, 1, 12, 0, tzinfo=paris),
        run_at="2030-01-01T12:00:00.250+02:00",
        claimed_at=datetime(2030, 1, 1, 10, 0),  # naive: taken as UTC
    )
    assert written["created_at"] == "2030-01-01T10:00:00Z"
    assert written["run_at"] == "2030-01-01T10:00:00.250000Z"
    assert written["claimed_at"] == "2030-01-01T10:00:00Z"
