"""Row conversions: cursors and instants."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from taskmanager.errors import ValidationFailed
from taskmanager.storage.rows import decode_cursor, encode_cursor, from_db_time, to_db_time


@pytest.mark.parametrize("seq", [0, 1, 42, 2**40, 2**63 - 1])
def test_cursor_round_trips(seq: int) -> None:
    cursor = encode_cursor(seq)
    assert decode_cursor(cursor) == seq
    assert "=" not in cursor


def test_cursor_is_opaque() -> None:
    assert str(12345) not in encode_cursor(12345)


def b64(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "!!!",
        "not base64 at all",
        b64(b"12"),
        b64(b"s"),
        b64(b"sabc"),
        b64(b"s-1"),
        b64(b"s" + b"9" * 30),
        b64(b"s" + str(2**63).encode()),
        b64(b"\xff\xfe"),
    ],
)
def test_garbage_cursor_is_a_validation_error(garbage: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(garbage)
    assert caught.value.status == 422
    assert caught.value.code == "validation_error"


def test_instants_are_stored_as_naive_utc_and_read_back_aware() -> None:
    paris = timezone(timedelta(hours=1))
    stored = to_db_time(datetime(2030, 1, 1, 13, 0, tzinfo=paris))
    assert stored == datetime(2030, 1, 1, 12, 0)
    assert stored.tzinfo is None
    assert from_db_time(stored) == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    assert from_db_time(None) is None
