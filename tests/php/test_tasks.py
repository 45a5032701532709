"""`php worker.php` and `php test_worker.php` against a real server: tasks in, results out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer
from tests.php.conftest import PHP, WorkerProcess, php_env, run_php, wait_until

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (.ci/run installs it)")

PHP_PROBLEMS = ("PHP Warning", "PHP Notice", "PHP Deprecated", "PHP Fatal", "PHP: ")


def by_type(client: Client, ids: list[str]) -> dict[str, dict[str, Any]]:
    tasks = [client.get_task(task_id) for task_id in ids]
    return {task["type"]: task for task in tasks}


def test_test_worker_tasks_are_claimed_completed_and_failed(
    php_server: LiveServer, client: Client
) -> None:
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)
    created = run_php("test_worker.php", "--num-tasks=5", "--with-errors", env=env)
    assert created.returncode == 0, created.stderr
    ids = [line.split()[1] for line in created.stdout.splitlines() if line.startswith("created ")]
    assert len(ids) == 5
    assert "5 task(s) created" in created.stdout

    done = run_php(
        "worker.php", "--max-runs=5", "--poll-interval=1", "--worker-id=php-e2e", env=env
    )

    assert done.returncode == 0, done.stderr
    tasks = by_type(client, ids)
    assert tasks["example.echo"]["result"]["echo"] == "Hello, World!"
    assert tasks["example.uppercase"]["result"] == {"text": "HELLO, WORLD"}
    assert tasks["example.math.add"]["result"] == {"sum": 5}
    assert tasks["example.sleep"]["result"] == {"slept_seconds": 0.5}
    for name in ("example.echo", "example.uppercase", "example.math.add", "example.sleep"):
        assert tasks[name]["status"] == "completed"
        assert tasks[name]["worker_id"] == "php-e2e"
        assert tasks[name]["attempts"] == 1
    failed = tasks["example.error"]
    assert failed["status"] == "pending"  # attempts left: back in the queue with a backoff
    assert failed["attempts"] == 1
    assert failed["error"] == "RuntimeException: failing on purpose"
    assert "processed=5 completed=4 retry=1" in done.stderr
    assert not any(problem in done.stderr for problem in PHP_PROBLEMS)


def test_permanent_errors_retries_and_bad_params(php_server: LiveServer, client: Client) -> None:
    permanent = client.create_task("example.error", {"message": "no way", "permanent": True})
    later = client.create_task("example.error", {"message": "later", "retry_delay_seconds": 600})
    last = client.create_task("example.error", {"message": "last try"}, max_attempts=1)
    bad = client.create_task("example.math.add", {"a": 1, "b": "two"})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)

    done = run_php("worker.php", "--max-runs=4", "--poll-interval=1", env=env)

    assert done.returncode == 0, done.stderr
    permanent = client.get_task(permanent["id"])
    assert (permanent["status"], permanent["error"]) == ("failed", "no way")
    assert permanent["attempts"] == 1
    later = client.get_task(later["id"])
    assert (later["status"], later["error"]) == ("pending", "later")
    run_at = datetime.fromisoformat(later["run_at"])
    assert (run_at - datetime.fromisoformat(later["created_at"])).total_seconds() > 500
    last = client.get_task(last["id"])
    assert (last["status"], last["error"]) == ("failed", "RuntimeException: last try")
    bad = client.get_task(bad["id"])
    assert bad["status"] == "failed"
    assert "give numbers as params.a and params.b" in bad["error"]
    assert "processed=4 failed=3 retry=1" in done.stderr


def test_an_error_with_nul_or_over_the_limit_is_still_reported(
    php_server: LiveServer, client: Client
) -> None:
    message = "a\x00b" + "\u00e9" * 70_000
    task = client.create_task("example.error", {"message": message, "permanent": True})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)

    done = run_php("worker.php", "--max-runs=1", "--poll-interval=1", env=env)

    assert done.returncode == 0, done.stderr
    failed = client.get_task(task["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"] == ("a\ufffdb" + "\u00e9" * 70_000)[:65_536]


def test_max_runs_stops_after_that_many_tasks(php_server: LiveServer, client: Client) -> None:
    ids = [client.create_task("example.echo", {"message": f"m{n}"})["id"] for n in range(3)]
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)

    done = run_php("worker.php", "--max-runs=2", "--poll-interval=1", env=env)

    assert done.returncode == 0, done.stderr
    statuses = sorted(client.get_task(task_id)["status"] for task_id in ids)
    assert statuses == ["completed", "completed", "pending"]
    assert "max runs 2" in done.stderr
    assert "processed=2 completed=2" in done.stderr


def test_flag_over_environment_over_file(
    php_server: LiveServer, client: Client, tmp_path: Path
) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text(
        "# settings for the test\n"
        f"TASKMANAGER_API_URL={php_server.api_url}\n"
        "WORKER_ID=from-file\n"
        "TASK_TYPES=example.uppercase\n"
        "POLL_INTERVAL=1\n"
        "MAX_RUNS=1\n"
    )
    echo = client.create_task("example.echo", {"message": "not for this worker"})
    workers = []
    for args, env in [
        (["--worker-id=from-flag"], {"WORKER_ID": "from-env"}),
        ([], {"WORKER_ID": "from-env"}),
        ([], {}),
    ]:
        task = client.create_task("example.uppercase", {"text": "abc"})
        done = run_php("worker.php", f"--config={conf}", *args, env=php_env(**env))
        assert done.returncode == 0, done.stderr
        finished = client.get_task(task["id"])
        assert finished["result"] == {"text": "ABC"}
        workers.append(finished["worker_id"])

    assert workers == ["from-flag", "from-env", "from-file"]
    assert client.get_task(echo["id"])["status"] == "pending"  # TASK_TYPES from the file


def test_environment_url_wins_over_a_wrong_one_in_the_file(
    php_server: LiveServer, client: Client, tmp_path: Path
) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text("TASKMANAGER_API_URL=http://127.0.0.1:9/api\nMAX_RUNS=1\n")
    task = client.create_task("example.echo", {"message": "hi"})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)

    done = run_php("worker.php", "--config", str(conf), "--poll-interval=1", env=env)

    assert done.returncode == 0, done.stderr
    assert client.get_task(task["id"])["result"] == {"echo": "hi"}


def test_heartbeats_keep_a_short_lease_alive(
    php_server: LiveServer, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    client.put_task_type("example.sleep", lease_seconds=2)
    task = client.create_task("example.sleep", {"seconds": 4})
    worker = start_worker(
        "--max-runs=1", "--poll-interval=1", env=php_env(TASKMANAGER_API_URL=php_server.api_url)
    )

    def progressed() -> dict[str, Any] | None:
        seen = client.get_task(task["id"])
        return seen if (seen["progress"] or 0) >= 50 else None

    seen = wait_until(progressed, 30, "progress of the sleeping task")
    claimed = datetime.fromisoformat(seen["claimed_at"])
    expires = datetime.fromisoformat(seen["lease_expires_at"])
    assert (expires - claimed).total_seconds() > 2  # extended past the first lease
    assert client.claim("intruder", task_types=["example.sleep"]) is None
    assert worker.wait() == 0, worker.log()
    done = client.get_task(task["id"])
    assert (done["status"], done["attempts"]) == ("completed", 1)
    assert done["result"] == {"slept_seconds": 4}


def test_a_cancelled_task_is_dropped_without_a_report(
    php_server: LiveServer, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    client.put_task_type("example.sleep", lease_seconds=2)
    task = client.create_task("example.sleep", {"seconds": 20})
    worker = start_worker(
        "--max-runs=1", "--poll-interval=1", env=php_env(TASKMANAGER_API_URL=php_server.api_url)
    )
    wait_until(lambda: client.get_task(task["id"])["status"] == "processing", 30, "the claim")

    client.cancel_task(task["id"])

    assert worker.wait() == 0, worker.log()
    assert "cancelled" in worker.log()
    assert "processed=1 cancelled=1" in worker.log()
    assert client.get_task(task["id"])["status"] == "cancelled"
