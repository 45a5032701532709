"""Both workers against a server that requires API keys: the key from a flag or the environment.

The workers run as processes, as users run them, with `--debug` on: their logs must show the
HTTP calls and never an API key or a lease token in full.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from taskmanager.client import Client
from taskmanager.storage import SQLStore, open_store
from tests.conftest import LiveServer, start_server
from tests.php.conftest import PHP, PHP_DIR
from tests.worker.conftest import WORKERS_DIR, run_script

pytestmark = pytest.mark.slow
PROBLEMS = ("Traceback", "PHP Warning", "PHP Notice", "PHP Fatal", "PHP: ")
WORKERS = ["python", pytest.param("php", marks=pytest.mark.skipif(PHP is None, reason="no php"))]


@dataclass(frozen=True)
class KeyedServer:
    server: LiveServer
    db_url: str
    worker_key: str
    producer_key: str


def create_key(db_url: str, role: str) -> str:
    """`taskmanager keys create`, as an operator runs it; answers the secret it prints."""
    done = subprocess.run(
        [sys.executable, "-m", "taskmanager", "keys", "create", "--role", role, "--name", role],
        env={**os.environ, "TASKMANAGER_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedServer]:
    """One server for the module, on SQLite: the workers are under test here, not the store."""
    folder = tmp_path_factory.mktemp("keyed")
    db_url = f"sqlite:///{folder / 'keyed.db'}"
    worker_key, producer_key = create_key(db_url, "worker"), create_key(db_url, "producer")
    server = start_server(folder, db_url)
    yield KeyedServer(server, db_url, worker_key, producer_key)
    server.stop()


def run_worker(
    kind: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python worker.py ARGS` or `php worker.php ARGS`, from its own directory, to its end."""
    command = [PHP or "php", "worker.php"] if kind == "php" else [sys.executable, "worker.py"]
    folder = PHP_DIR if kind == "php" else WORKERS_DIR
    return run_script(*command, *args, env=env or {}, cwd=folder, timeout=timeout)


def lease_tokens(db_url: str) -> list[str]:
    """Every lease token the server handed out (a completed task keeps its last one)."""
    from taskmanager.storage.schema import tasks

    store = open_store(db_url)
    try:
        assert isinstance(store, SQLStore)
        with store.engine.connect() as conn:
            rows = conn.execute(select(tasks.c.lease_token)).all()
    finally:
        store.close()
    return [row.lease_token for row in rows if row.lease_token]


def assert_no_secret(log: str, secrets: list[str]) -> None:
    assert secrets and all(len(secret) >= 20 for secret in secrets)
    leaked = [secret for secret in secrets if secret in log]
    assert not leaked, f"secrets in the log: {leaked}"


@pytest.mark.parametrize("kind", WORKERS)
@pytest.mark.parametrize("source", ["flag", "environment"])
def test_the_worker_key_runs_tasks(keyed: KeyedServer, kind: str, source: str) -> None:
    api_url = keyed.server.api_url
    with Client(api_url, api_key=keyed.producer_key, timeout=10) as producer:
        ids = [producer.create_task("example.echo", {"message": n})["id"] for n in "ab"]
        args = ["--max-runs=2", "--poll-interval=1", "--task-types=example.echo", "--debug"]
        args.append(f"--api-url={api_url}")
        if source == "flag":
            done = run_worker(kind, *args, f"--api-key={keyed.worker_key}")
        else:
            done = run_worker(kind, *args, env={"TASKMANAGER_API_KEY": keyed.worker_key})
        tasks = [producer.get_task(task_id) for task_id in ids]

    assert done.returncode == 0, done.stderr
    assert [(t["status"], t["result"]) for t in tasks] == [
        ("completed", {"echo": "a"}),
        ("completed", {"echo": "b"}),
    ]
    assert f"POST {api_url}/tasks/claim -> 200" in done.stderr  # --debug shows each HTTP call
    assert f"/tasks/{ids[0]}/complete -> 200" in done.stderr
    assert_no_secret(done.stdout + done.stderr, [keyed.worker_key, *lease_tokens(keyed.db_url)])
    assert not any(problem in done.stderr for problem in PROBLEMS)


@pytest.mark.parametrize("kind", WORKERS)
@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("tm_not-a-key-we-ever-made-0000000000", "unknown API key"),
        ("", "an API key is required"),
    ],
)
def test_a_wrong_or_missing_key_is_a_clear_failure(
    keyed: KeyedServer, kind: str, key: str, reason: str
) -> None:
    with Client(keyed.server.api_url, api_key=keyed.producer_key, timeout=10) as producer:
        task = producer.create_task("example.uppercase", {"text": "never"})  # not for the others
        env = {"TASKMANAGER_API_URL": keyed.server.api_url, "TASKMANAGER_API_KEY": key}
        done = run_worker(kind, "--max-runs=1", "--debug", env=env, timeout=60)
        assert producer.get_task(task["id"])["status"] == "pending"

    assert done.returncode == 1
    assert reason in done.stderr
    assert "check --api-key (TASKMANAGER_API_KEY)" in done.stderr
    if key:
        assert_no_secret(done.stderr, [key])
    assert not any(problem in done.stderr for problem in PROBLEMS)
