"""What `php worker.php` writes: one JSON object a line with --log-format json or LOG_FORMAT."""

from __future__ import annotations

import json

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer
from tests.php.conftest import PHP, php_env, run_php

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (.ci/run installs it)")


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--log-format=json", "--debug"], {}), ([], {"LOG_FORMAT": "json", "DEBUG": "true"})],
    ids=["flags", "environment"],
)
def test_json_logs_for_log_shippers(
    php_server: LiveServer, client: Client, args: list[str], env: dict[str, str]
) -> None:
    ids = [client.create_task("example.echo", {"message": n})["id"] for n in "ab"]
    environ = php_env(TASKMANAGER_API_URL=php_server.api_url, **env)

    done = run_php(
        "worker.php", "--max-runs=2", "--poll-interval=1", "--worker-id=js", *args, env=environ
    )

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    assert all(line["worker_id"] == "js" and line["time"].endswith("Z") for line in lines)
    per_task = [line for line in lines if "outcome" in line]
    assert [(line["task_id"], line["outcome"]) for line in per_task] == [
        (ids[0], "completed"),
        (ids[1], "completed"),
    ]
    assert {line["task_type"] for line in per_task} == {"example.echo"}
    assert all(line["duration_seconds"] >= 0 for line in per_task)
    calls = [line["message"] for line in lines if line["level"] == "debug"]
    assert f"POST {php_server.api_url}/tasks/claim -> 200" in " ".join(calls)
    assert lines[-1]["stats"]["completed"] == 2 and lines[-1]["exit_status"] == 0


def test_text_logs_by_default_and_no_debug_lines(php_server: LiveServer, client: Client) -> None:
    client.create_task("example.echo", {"message": "hi"})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url, DEBUG="false")

    done = run_php("worker.php", "--max-runs=1", "--poll-interval=1", "--debug=false", env=env)

    assert done.returncode == 0, done.stderr
    assert " INFO " in done.stderr and not done.stderr.lstrip().startswith("{")
    assert "DEBUG" not in done.stderr and "/tasks/claim ->" not in done.stderr
