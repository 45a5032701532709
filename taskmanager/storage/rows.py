"""Conversions between database rows and wire models."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar, overload

from sqlalchemy import Row

from taskmanager.errors import ValidationFailed
from taskmanager.models import ClaimedTask, Task, TaskCreate
from taskmanager.status import TaskStatus

MAX_SEQ = 2**63


def to_db_time(value: datetime) -> datetime:
    """Instants are stored as naive UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@overload
def from_db_time(value: datetime) -> datetime: ...
@overload
def from_db_time(value: None) -> None: ...
def from_db_time(value: datetime | None) -> datetime | None:
    """Instants come back as aware UTC."""
    return None if value is None else value.replace(tzinfo=UTC)


@lru_cache(maxsize=4096)
def _aware(value: datetime | None) -> datetime | None:
    """`from_db_time`, remembered: the tasks of one claim or complete share most of their
    instants (the claim's `now`, the lease's end, a batch's creation), and a lookup costs a
    tenth of making an aware copy."""
    return from_db_time(value)


# One encoder for every column: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def dump_json(value: dict[str, Any] | None) -> str | None:
    """Compact JSON text for a params or result column."""
    return None if value is None else _ENCODE(value)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def request_hash(item: TaskCreate) -> str:
    """A fingerprint of a create request, to tell a replay from a different body."""
    body = item.model_dump(mode="json", exclude_none=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_Model = TypeVar("_Model", Task, ClaimedTask)


def _trusted(model: type[_Model], fields: dict[str, Any]) -> _Model:
    """What `model_construct` makes of a value for every field, without its per-field loop
    over aliases and defaults: a claim or complete builds one per task."""
    made = model.__new__(model)
    object.__setattr__(made, "__dict__", fields)
    object.__setattr__(made, "__pydantic_fields_set__", set(fields))
    object.__setattr__(made, "__pydantic_extra__", None)
    object.__setattr__(made, "__pydantic_private__", None)
    return made


def trusted_task(fields: dict[str, Any]) -> Task:
    """A Task from a value for each of its fields, already valid."""
    return _trusted(Task, fields)


def task_from_row(row: Row[Any]) -> Task:
    """A Task built from a full `tasks` row (already valid, so not validated again)."""
    return _trusted(Task, _task_fields(row._mapping))


def task_from_mapping(values: Mapping[str, Any]) -> Task:
    """A Task built from the column values of a row about to be or just inserted."""
    return _trusted(Task, _task_fields(values))


def claimed_from_mapping(values: Mapping[str, Any]) -> ClaimedTask:
    """A claimed task, with its lease token, from its column values."""
    fields = _task_fields(values)
    fields["lease_token"] = values["lease_token"]
    return _trusted(ClaimedTask, fields)


# A status from its text without the enum's call machinery (a third of a microsecond each).
_STATUS = {status.value: status for status in TaskStatus}


def _task_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    get = row.get
    return {
        "id": row["id"],
        "type": row["type"],
        "status": _STATUS[row["status"]],
        "params": json.loads(row["params"]),
        "priority": row["priority"],
        "created_at": _aware(row["created_at"]),
        "run_at": _aware(row["run_at"]),
        "claimed_at": _aware(get("claimed_at")),
        "completed_at": _aware(get("completed_at")),
        "worker_id": get("worker_id"),
        "result": load_json(get("result")),
        "error": get("error"),
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "lease_expires_at": _aware(get("lease_expires_at")),
        "progress": get("progress"),
        "progress_message": get("progress_message"),
        "idempotency_key": get("idempotency_key"),
    }


def encode_cursor(seq: int) -> str:
    """An opaque page cursor."""
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; a clear 422 for anything we did not hand out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        seq = int(text[1:]) if text.startswith("s") else -1
        # A position the database cannot hold is as invalid as one that does not parse.
        if not 0 <= seq < MAX_SEQ:
            raise ValueError(text)
        return seq
    except (ValueError, binascii.Error, UnicodeError):
        raise ValidationFailed("invalid cursor", {"cursor": cursor[:100]}) from None
