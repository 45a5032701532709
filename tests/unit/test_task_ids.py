"""Task ids: random version 4 UUIDs, written the way Python's uuid module writes them."""

from __future__ import annotations

import uuid

from taskmanager.storage.creating import new_task_id


def test_ids_are_version_4_uuids_in_their_canonical_form() -> None:
    for _ in range(2000):
        text = new_task_id()
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_ids_do_not_repeat_and_use_every_variant_digit() -> None:
    made = [new_task_id() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert {text[19] for text in made} == set("89ab")
