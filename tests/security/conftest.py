"""An app with API keys of every role, and one revoked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.roles import Role
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import open_store


@dataclass(frozen=True)
class Keys:
    producer: str
    worker: str
    other_worker: str
    admin: str
    revoked: str


@pytest.fixture
def keys(db_url: str) -> Keys:
    store = open_store(db_url)
    try:
        made = {
            name: store.create_api_key(name, role)[0]
            for name, role in [
                ("producer", Role.PRODUCER),
                ("worker", Role.WORKER),
                ("other_worker", Role.WORKER),
                ("admin", Role.ADMIN),
                ("revoked", Role.ADMIN),
            ]
        }
        store.revoke_api_key("revoked")
    finally:
        store.close()
    return Keys(**made)


@pytest.fixture
def secured(db_url: str, keys: Keys, clock: ManualClock) -> Iterator[TestClient]:
    """The real app on a database that has keys; lookups are not cached."""
    settings = Settings(database_url=db_url, migrate_on_start=False, auth_cache_seconds=0)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
