"""End to end: the real server and the worker as processes, as users run them."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer, free_port
from tests.worker.conftest import WORKERS_DIR, WorkerProcess, run_script, serve_on, wait_until

pytestmark = pytest.mark.slow
Start = Callable[..., WorkerProcess]


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.api_url, timeout=10) as api:
        yield api


def statuses(client: Client, ids: list[str]) -> list[str]:
    return [client.get_task(task_id)["status"] for task_id in ids]


def test_the_guide_walkthrough(live_server: LiveServer, client: Client) -> None:
    env = {"TASKMANAGER_API_URL": live_server.api_url}
    created = run_script(
        sys.executable, "test_worker.py", "--num-tasks=5", env=env, cwd=WORKERS_DIR
    )
    assert created.returncode == 0, created.stderr
    ran = run_script(
        sys.executable,
        "worker.py",
        "--max-runs=5",
        env={**env, "LOG_FORMAT": "json"},
        cwd=WORKERS_DIR,
    )
    assert ran.returncode == 0, ran.stderr
    tasks = client.list_tasks()["tasks"]
    assert len(tasks) == 5 and {t["status"] for t in tasks} == {"completed"}
    lines = [json.loads(line) for line in ran.stderr.splitlines()]
    per_task = [line for line in lines if "outcome" in line]
    assert len(per_task) == 5
    assert {line["task_id"] for line in per_task} == {t["id"] for t in tasks}
    assert all(line["duration_seconds"] >= 0 and line["task_type"] for line in per_task)
    assert lines[-1]["stats"]["completed"] == 5


def test_precedence_flag_over_env_over_file(
    live_server: LiveServer, client: Client, tmp_path: Path
) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text(
        f"# settings\nTASKMANAGER_API_URL={live_server.api_url}\nWORKER_ID=from-file\n"
        "MAX_RUNS=1\nPOLL_INTERVAL=1\n"
    )
    runs = [
        ([], {}),
        ([], {"WORKER_ID": "from-env"}),
        (["--worker-id", "from-flag"], {"WORKER_ID": "from-env"}),
    ]
    for args, env in runs:
        client.create_task("example.echo", {"message": "who?"})
        done = run_script(
            sys.executable, "-m", "taskmanager", "worker", "--config", str(conf), *args, env=env
        )
        assert done.returncode == 0, done.stderr
    holders = [t["worker_id"] for t in reversed(client.list_tasks()["tasks"])]
    assert holders == ["from-file", "from-env", "from-flag"]


def test_invalid_configuration_exits_2_without_a_traceback(tmp_path: Path) -> None:
    done = run_script(
        sys.executable,
        "-m",
        "taskmanager",
        "worker",
        "--concurrency",
        "zero",
        env={"POLL_INTERVAL": "-1"},
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "error: --concurrency: must be a whole number, got 'zero'" in done.stderr
    assert "error: POLL_INTERVAL (environment): must be a number from 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_key_in_config_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "worker.conf").write_text("POLL_INTERVALL=5\n")
    done = run_script(
        sys.executable,
        "-m",
        "taskmanager",
        "worker",
        "--config",
        "worker.conf",
        env={},
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "worker.conf:1: unknown setting 'POLL_INTERVALL'" in done.stderr


def test_unreachable_api_is_a_clear_failure(start: Start) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    worker = start("--api-url", url)
    assert worker.wait(timeout=30) == 1
    log = worker.log()
    assert f"the TaskManager API at {url} is not reachable" in log
    assert "Traceback" not in log


@pytest.fixture
def start(start_worker: Start) -> Start:
    return start_worker


def test_sigterm_finishes_the_tasks_in_hand(
    live_server: LiveServer, client: Client, start: Start
) -> None:
    ids = [client.create_task("example.sleep", {"seconds": 2})["id"] for _ in range(2)]
    worker = start(
        "--api-url", live_server.api_url, "--concurrency", "2", "--worker-id", "graceful"
    )
    wait_until(lambda: statuses(client, ids) == ["processing"] * 2, timeout=30, what="both claimed")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    tasks = [client.get_task(task_id) for task_id in ids]
    assert [t["status"] for t in tasks] == ["completed"] * 2
    assert [t["attempts"] for t in tasks] == [1, 1]  # none came back through lease expiry
    assert "stop requested: finishing 2 task(s) in hand" in worker.log()


@pytest.mark.serial  # the second signal must come 0.2 s after the first: a loaded machine blurs it
def test_second_signal_hands_the_tasks_back(
    live_server: LiveServer, client: Client, start: Start
) -> None:
    ids = [client.create_task("example.sleep", {"seconds": 60})["id"] for _ in range(2)]
    worker = start("--api-url", live_server.api_url, "--concurrency", "2", "--worker-id", "hasty")
    wait_until(lambda: statuses(client, ids) == ["processing"] * 2, timeout=30, what="both claimed")
    worker.signal(signal.SIGTERM)
    time.sleep(0.2)  # let the first signal be handled on its own
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=15) == 1
    tasks = [client.get_task(task_id) for task_id in ids]
    assert [t["status"] for t in tasks] == ["pending", "pending"]
    assert all("handed back by worker hasty" in t["error"] for t in tasks)
    # Handed back for another worker at once, not after the lease runs out.
    claimed = client.claim_batch("next", 2, wait_seconds=0)
    assert sorted(t["id"] for t in claimed) == sorted(ids)


def test_idle_worker_stops_at_once_and_leases_nothing_after(
    live_server: LiveServer, client: Client, start: Start
) -> None:
    worker = start("--api-url", live_server.api_url, "--poll-interval", "30", "--worker-id", "idle")
    wait_until(lambda: "started" in worker.log(), timeout=30, what="the worker to start")
    time.sleep(0.5)  # its long poll is waiting now
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    task = client.create_task("example.echo", {"message": "for someone else"})
    time.sleep(0.5)
    assert client.get_task(task["id"])["status"] == "pending"


def test_import_loads_user_handlers(
    live_server: LiveServer, client: Client, tmp_path: Path, start: Start
) -> None:
    (tmp_path / "myapp_tasks.py").write_text(
        "from taskmanager.worker import Worker\n"
        "worker = Worker()\n"
        "@worker.handler('myapp.shout')\n"
        "def shout(params):\n"
        "    return {'text': params['text'].upper() + '!'}\n"
    )
    for spec in ("myapp_tasks", "myapp_tasks:worker"):
        task = client.create_task("myapp.shout", {"text": "hi"})
        worker = start(
            "--api-url", live_server.api_url, "--import", spec, "--max-runs", "1", cwd=tmp_path
        )
        assert worker.wait(timeout=30) == 0, worker.log()
        assert client.get_task(task["id"])["result"] == {"text": "HI!"}


def test_worker_survives_an_api_restart(tmp_path: Path, db_url: str, start: Start) -> None:
    port = free_port()
    server = serve_on(tmp_path, db_url, port)
    worker = start(
        "--api-url",
        server.api_url,
        "--poll-interval",
        "1",
        "--max-consecutive-errors",
        "20",
        "--max-runs",
        "2",
    )
    try:
        with Client(server.api_url, timeout=10) as api:
            first = api.create_task("example.echo", {"message": "before"})
            wait_until(lambda: api.get_task(first["id"])["status"] == "completed")
        server.stop()
        wait_until(lambda: "retrying in" in worker.log(), what="the worker to notice")
        server = serve_on(tmp_path, db_url, port)
        with Client(server.api_url, timeout=10) as api:
            second = api.create_task("example.echo", {"message": "after"})
            assert worker.wait(timeout=60) == 0, worker.log()
            assert api.get_task(second["id"])["status"] == "completed"
    finally:
        server.stop()
