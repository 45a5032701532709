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


def make_keys(
    db_url: str, roles: dict[str, Role], revoked: str, *, migrate: bool = False
) -> dict[str, str]:
    """A key per name with its role, made straight in the database; `revoked` is revoked."""
    store = open_store(db_url)
    try:
        if migrate:
            store.migrate()
        made = {name: store.create_api_key(name, role)[0] for name, role in roles.items()}
        store.revoke_api_key(revoked)
    finally:
        store.close()
    return made


@pytest.fixture
def keys(db_url: str) -> Keys:
    roles = {
        "producer": Role.PRODUCER,
        "worker": Role.WORKER,
        "other_worker": Role.WORKER,
        "admin": Role.ADMIN,
        "revoked": Role.ADMIN,
    }
    return Keys(**make_keys(db_url, roles, "revoked"))


@pytest.fixture
def secured(db_url: str, keys: Keys, clock: ManualClock) -> Iterator[TestClient]:
    """The real app on a database that has keys; lookups are not cached."""
    settings = Settings(database_url=db_url, migrate_on_start=False, auth_cache_seconds=0)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# Who may call: nobody, a bad key of each kind, each role.
CREDENTIALS = ["none", "malformed", "unknown", "revoked", "producer", "worker", "admin"]
ROLES = {"producer", "worker", "admin"}


def headers_for(credential: str, keys: Keys) -> dict[str, str]:
    """The headers a caller with this credential sends."""
    if credential == "none":
        return {}
    if credential == "malformed":
        return {"Authorization": f"Basic {keys.admin}"}
    if credential == "unknown":
        return {"X-API-Key": "tm_" + "x" * 43}
    key: str = getattr(keys, credential)
    return bearer(key)
