"""Nothing secret in the server's logs: API keys and lease tokens never appear in full."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from taskmanager.roles import Role
from tests.conftest import start_server
from tests.security.conftest import make_keys


def _keys(db_url: str) -> dict[str, str]:
    """A producer, a worker, and a revoked admin key on a fresh database."""
    roles = {"producer": Role.PRODUCER, "worker": Role.WORKER, "revoked": Role.ADMIN}
    return make_keys(db_url, roles, "revoked", migrate=True)


def _use_keys_and_leases(api: str, keys: dict[str, str]) -> list[str]:
    """Calls that succeed and calls that fail (401, 409); returns the lease tokens seen."""
    producer = {"Authorization": f"Bearer {keys['producer']}"}
    worker = {"X-API-Key": keys["worker"]}
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(2):
            assert client.post("/tasks", json={"type": "log.me"}, headers=producer).is_success
        first = client.post("/tasks/claim", json={"worker_id": "w-1"}, headers=worker).json()
        second = client.post("/tasks/claim", json={"worker_id": "w-1"}, headers=worker).json()
        tokens = [first["lease_token"], second["lease_token"]]
        beat = {"worker_id": "w-1", "lease_token": tokens[0]}
        assert client.post(f"/tasks/{first['id']}/heartbeat", json=beat, headers=worker).is_success
        done = {"lease_token": tokens[0], "result": {"ok": True}}
        assert client.post(f"/tasks/{first['id']}/complete", json=done, headers=worker).is_success
        # Another task's token is not this task's lease: 409, on complete and on fail.
        crossed = {"lease_token": tokens[1], "result": {}}
        again = client.post(f"/tasks/{first['id']}/complete", json=crossed, headers=worker)
        assert again.status_code == 409
        wrong = {"lease_token": tokens[0], "error": "boom"}
        stale = client.post(f"/tasks/{second['id']}/fail", json=wrong, headers=worker)
        assert stale.status_code == 409
        for refused in (
            {"Authorization": f"Bearer {keys['revoked']}"},
            {"X-API-Key": keys["revoked"]},
            {"Authorization": f"Basic {keys['producer']}"},
            {"X-API-Key": keys["worker"] + "x"},
        ):
            assert client.get("/tasks", headers=refused).status_code == 401
    return tokens


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_keys_and_lease_tokens_stay_out_of_the_logs(tmp_path: Path, log_format: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'secrets.db'}"
    keys = _keys(db_url)
    server = start_server(
        tmp_path, db_url, TASKMANAGER_LOG_FORMAT=log_format, TASKMANAGER_LOG_LEVEL="debug"
    )
    try:
        tokens = _use_keys_and_leases(server.api_url, keys)
    finally:
        server.stop()
    log = server.log()
    # The calls were logged (so the check below looks at real lines) ...
    assert "/api/tasks/claim" in log and "401" in log and "409" in log
    # ... and no secret is in them, whole.
    secrets = [*keys.values(), keys["worker"] + "x", *tokens]
    assert [secret for secret in secrets if secret in log] == []
