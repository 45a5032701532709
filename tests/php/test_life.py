"""The PHP worker's life: bad configuration, an unreachable or failing API, stop signals."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer, free_port
from tests.php.conftest import PHP, WorkerProcess, php_env, run_php, wait_until

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (.ci/run installs it)")

PHP_PROBLEMS = ("PHP Warning", "PHP Notice", "PHP Deprecated", "PHP Fatal", "Stack trace")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--poll-interval=abc"], "--poll-interval: must be a number, got 'abc'"),
        (["--max-runs=-3"], "--max-runs: must be a whole number from 0"),
        (["--concurrency=0"], "--concurrency: must be a whole number from 1 to 100, got 0"),
        (["--ca-bundle=/nonexistent/ca.pem"], "--ca-bundle: no such file: '/nonexistent/ca.pem'"),
        (["--api-url=localhost:8000"], "--api-url: must be an http:// or https:// URL"),
        (["--task-types=myapp.unknown"], "TASK_TYPES: no handler for myapp.unknown"),
        (["--debug=perhaps"], "--debug: must be true or false"),
        (["--colour=blue"], "unknown option --colour"),
        (["--config=/nonexistent/worker.conf"], "cannot read config file /nonexistent/worker.conf"),
    ],
)
def test_bad_configuration_exits_2_with_a_message(args: list[str], message: str) -> None:
    done = run_php("worker.php", *args, timeout=30)

    assert done.returncode == 2
    assert f"error: {message}" in done.stderr
    assert done.stdout == ""
    assert not any(problem in done.stderr for problem in PHP_PROBLEMS)


def test_bad_config_file_and_environment_name_their_source(tmp_path: Path) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text("POLL_INTERVAL=5\nPOLL_INTERVALL=6\n")
    unknown_key = run_php("worker.php", f"--config={conf}")
    conf.write_text("MAX_RUNS=many\n")
    bad_value = run_php("worker.php", f"--config={conf}", env=php_env(POLL_INTERVAL="0"))

    assert unknown_key.returncode == 2
    assert f"error: {conf}:2: unknown setting 'POLL_INTERVALL'" in unknown_key.stderr
    assert bad_value.returncode == 2
    assert "error: POLL_INTERVAL (environment): must be more than 0 seconds" in bad_value.stderr
    assert f"error: MAX_RUNS (in {conf}): must be a whole number, got 'many'" in bad_value.stderr
    for done in (unknown_key, bad_value):
        assert not any(problem in done.stderr for problem in PHP_PROBLEMS)


def test_help_lists_every_option() -> None:
    done = run_php("worker.php", "--help")

    assert done.returncode == 0
    for name in ("--api-url", "--worker-id", "--task-types", "--poll-interval", "--max-runs"):
        assert name in done.stdout
    for env in ("TASKMANAGER_API_URL", "WORKER_ID", "CONCURRENCY", "TASKMANAGER_API_KEY", "DEBUG"):
        assert env in done.stdout


def test_unreachable_api_exits_1_with_a_clear_message() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"

    done = run_php("worker.php", f"--api-url={url}", timeout=60)

    assert done.returncode == 1
    assert f"API health check failed: the TaskManager API at {url} is not reachable" in done.stderr
    assert "Is the server running? Check --api-url" in done.stderr
    assert not any(problem in done.stderr for problem in PHP_PROBLEMS)


def test_test_worker_reports_an_unreachable_api() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"

    done = run_php("test_worker.php", "--num-tasks=2", f"--api-url={url}")

    assert done.returncode == 1
    assert "Is the API running?" in done.stderr


class _HealthyButFailing(BaseHTTPRequestHandler):
    """An API whose health check passes and whose every other answer is 503."""

    def _answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(200, {"status": "ok", "database": "ok", "version": "test"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(503, {"error": "unavailable", "message": "database down", "details": {}})

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def failing_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthyButFailing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_too_many_consecutive_errors_exit_1(failing_api: str) -> None:
    env = php_env(MAX_CONSECUTIVE_ERRORS="3")

    done = run_php("worker.php", f"--api-url={failing_api}", env=env, timeout=60)

    assert done.returncode == 1
    assert done.stderr.count("claim failed (database down); retrying in") == 2
    assert "giving up after 3 consecutive API errors; last: database down" in done.stderr
    assert "api_errors=3" in done.stderr


def test_sigterm_finishes_the_task_in_hand_then_exits_0(
    php_server: LiveServer, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    task = client.create_task("example.sleep", {"seconds": 2})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)
    worker = start_worker("--poll-interval=1", "--debug", env=env)
    # The worker's own log, not the task's status: a claim the server has answered but the
    # worker has not read yet is handed back when the stop cuts it off.
    wait_until(lambda: f"claimed task {task['id']}" in worker.log(), 30, "the worker to hold it")

    worker.signal(signal.SIGTERM)

    assert worker.wait() == 0, worker.log()
    done = client.get_task(task["id"])
    assert (done["status"], done["result"]) == ("completed", {"slept_seconds": 2})
    assert "stop requested: finishing task" in worker.log()
    assert "processed=1 completed=1" in worker.log()


def test_a_second_signal_hands_the_task_back_and_exits_1(
    php_server: LiveServer, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    task = client.create_task("example.sleep", {"seconds": 120})
    env = php_env(TASKMANAGER_API_URL=php_server.api_url)
    worker = start_worker("--poll-interval=1", "--debug", env=env)
    # As above: the worker's own log says when it holds the task.
    wait_until(lambda: f"claimed task {task['id']}" in worker.log(), 30, "the worker to hold it")

    worker.signal(signal.SIGTERM)
    worker.wait_for_log("stop requested: finishing task")
    worker.signal(signal.SIGINT)

    assert worker.wait() == 1, worker.log()
    back = client.get_task(task["id"])
    assert back["status"] == "pending"
    assert back["attempts"] == 1
    assert back["error"].startswith("handed back by worker")
    assert "processed=1 handed_back=1" in worker.log()


def test_sigterm_while_waiting_for_work_exits_0(
    php_server: LiveServer, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    assert client.list_tasks(status="pending")["tasks"] == []
    worker = start_worker("--poll-interval=30", env=php_env(TASKMANAGER_API_URL=php_server.api_url))
    worker.wait_for_log(" started: ")

    worker.signal(signal.SIGTERM)

    assert worker.wait() == 0, worker.log()
    assert "stop requested: no task in hand" in worker.log()
