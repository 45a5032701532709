"""Anonymous access: only while no key exists, and only on loopback unless told otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.security.conftest import Keys


def _app(db_url: str, clock: ManualClock, **settings: object) -> TestClient:
    config = Settings(database_url=db_url, migrate_on_start=False, **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config, clock=clock), raise_server_exceptions=False)


def test_a_keyless_loopback_server_serves_anonymous_callers(
    db_url: str, clock: ManualClock
) -> None:
    with _app(db_url, clock, host="127.0.0.1") as api:
        assert api.post("/api/tasks", json={"type": "a.b"}).status_code == 201


def test_a_keyless_server_beyond_loopback_does_not_start(db_url: str, clock: ManualClock) -> None:
    with pytest.raises(RuntimeError, match="allow-anonymous"), _app(db_url, clock, host="0.0.0.0"):
        pass


def test_allow_anonymous_lets_it_start_beyond_loopback(db_url: str, clock: ManualClock) -> None:
    with _app(db_url, clock, host="0.0.0.0", allow_anonymous=True) as api:
        assert api.get("/api/stats").status_code == 200


def test_once_a_key_exists_anonymous_callers_are_refused(
    db_url: str, clock: ManualClock, keys: Keys
) -> None:
    with _app(db_url, clock, host="127.0.0.1") as api:
        refused = api.get("/api/tasks")
        assert refused.status_code == 401
        assert "API key" in refused.json()["message"]
        assert api.get("/api/health").status_code == 200


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKMANAGER_")}
    return subprocess.run(
        [sys.executable, "-m", "taskmanager", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_serve_refuses_a_public_address_without_keys(tmp_path: Path) -> None:
    done = _cli("serve", "--host", "0.0.0.0", "--port", "1", cwd=tmp_path)
    assert done.returncode == 2
    assert "--allow-anonymous" in done.stderr
    assert "Traceback" not in done.stderr


def test_keys_are_created_listed_and_revoked_from_the_cli(tmp_path: Path) -> None:
    created = _cli("keys", "create", "--role", "worker", "--name", "ci-worker", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("tm_") and len(secret) > 40
    listed = _cli("keys", "list", "--json", cwd=tmp_path)
    assert '"ci-worker"' in listed.stdout
    assert secret not in listed.stdout  # only a prefix is ever shown again
    assert secret.encode() not in (tmp_path / "taskmanager.db").read_bytes()  # only its hash
    assert _cli("keys", "revoke", "ci-worker", cwd=tmp_path).returncode == 0
    again = _cli("keys", "revoke", "ci-worker", cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr
