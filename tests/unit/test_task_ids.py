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


def test_the_ids_of_one_batch_increase() -> None:
    made = new_task_ids(1000)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_ids_carry_the_fraction_of_their_millisecond() -> None:
    before = time.time_ns()
    made = new_task_id()
    after = time.time_ns()
    millis, fraction = int(made[:8] + made[9:13], 16), int(made[15:18], 16)
    instant = millis * 1_000_000 + fraction * 1_000_000 / 4096
    assert before - 1_000_000 / 4096 <= instant <= after
