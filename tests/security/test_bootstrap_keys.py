"""Bootstrap keys: a server beyond loopback starts with keys from its settings (say, a Secret)."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import open_store
from tests.security.conftest import bearer

ADMIN = "tm_" + secrets.token_urlsafe(32)
WORKER = "tm_" + secrets.token_urlsafe(32)


def _settings(db_url: str, **extra: str) -> Settings:
    return Settings(
        database_url=db_url,
        migrate_on_start=False,
        host="0.0.0.0",
        auth_cache_seconds=0,
        **extra,  # type: ignore[arg-type]
    )


def _stored(db_url: str) -> list[tuple[str, str, bool]]:
    store = open_store(db_url)
    try:
        return [(k.name, k.role.value, k.revoked_at is None) for k in store.list_api_keys()]
    finally:
        store.close()


def test_a_public_server_starts_with_its_bootstrap_keys_and_they_work(
    db_url: str, clock: ManualClock
) -> None:
    settings = _settings(db_url, bootstrap_admin_key=ADMIN, bootstrap_worker_key=WORKER)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as api:
        assert api.get("/api/tasks").status_code == 401  # no anonymous access
        made = api.post("/api/tasks", json={"type": "boot.a"}, headers=bearer(ADMIN))
        assert made.status_code == 201
        claim = api.post("/api/tasks/claim", json={"worker_id": "w"}, headers=bearer(WORKER))
        assert claim.json()["id"] == made.json()["id"]
        refused = api.put("/api/task-types/boot.a", json={}, headers=bearer(WORKER))
        assert refused.status_code == 403
    # A restart (or a second server) stores nothing twice.
    with TestClient(create_app(settings, clock=clock)):
        pass
    assert sorted(_stored(db_url)) == [
        ("bootstrap-admin", "admin", True),
        ("bootstrap-worker", "worker", True),
    ]


def test_a_revoked_bootstrap_key_stays_revoked(db_url: str, clock: ManualClock) -> None:
    settings = _settings(db_url, bootstrap_admin_key=ADMIN, bootstrap_worker_key=WORKER)
    with TestClient(create_app(settings, clock=clock)):
        pass
    store = open_store(db_url)
    store.revoke_api_key("bootstrap-worker")
    store.close()
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as api:
        answer = api.get("/api/tasks", headers=bearer(WORKER))
        assert answer.status_code == 401 and "revoked" in answer.json()["message"]
        assert api.get("/api/tasks", headers=bearer(ADMIN)).status_code == 200


@pytest.mark.parametrize("weak", ["change-me", "", "x" * 31])
def test_a_placeholder_or_short_bootstrap_key_is_refused(weak: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(bootstrap_admin_key=weak)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(bootstrap_worker_key=weak)  # type: ignore[arg-type]
