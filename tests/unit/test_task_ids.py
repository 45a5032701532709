"""Task ids: version 7 UUIDs (time, then random bits), written the way Python writes UUIDs."""

from __future__ import annotations

import time
import uuid

from taskmanager.storage.creating import new_task_id, new_task_ids


def test_ids_are_version_7_uuids_in_their_canonical_form() -> None:
    for text in [new_task_id() for _ in range(1000)] + new_task_ids(1000):
        parsed = uuid.UUID(text)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_ids_do_not_repeat_and_use_every_variant_digit() -> None:
    made = [new_task_id() for _ in range(2500)] + new_task_ids(2500)
    assert len(set(made)) == len(made)
    assert {text[19] for text in made} == set("89ab")


def test_ids_carry_their_creation_time_and_sort_by_it() -> None:
    before = time.time_ns() // 1_000_000
    first = new_task_id()
    time.sleep(0.002)
    second = new_task_id()
    after = time.time_ns() // 1_000_000
    millis = int(first.replace("-", "")[:12], 16)
    assert before <= millis <= after
    assert first < second
