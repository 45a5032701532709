"""Network faults between the API and MariaDB/PostgreSQL, through the test tree's TCP proxy.

Two API processes reach the database only through the proxy, under load: producers create with
idempotency keys and send again after any error or timeout, claimers complete. In turn the
proxy adds 50 ms each way, swallows every byte for 3 s (blackhole), resets every connection,
and closes connections right after forwarding a COMMIT (whose outcome the API then cannot
know). While the database cannot be reached the API answers 503, within its connect timeout
or the end of the fault, never 500; it recovers by itself; no acknowledged write is lost and
no completion is accepted twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from taskmanager.client import Client
from tests.conftest import LiveServer, free_port
from tests.faults.proxy import FaultProxy, wait_for
from tests.faults.tier import SCALE
from tests.multiserver.history import History, check, final_states
from tests.multiserver.load import all_tasks, run_threads
from tests.multiserver.test_database_crash import CONNECT_TIMEOUT, Load, serve

FAULT_SECONDS = 3.0
LATENCY_SECONDS = 0.05


@pytest.fixture
def proxy(db_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(make_url(db_url).port or 0) as running:
        yield running


def through(db_url: str, proxy: FaultProxy) -> str:
    url = make_url(db_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def probe(server: LiveServer, seconds: float) -> list[tuple[int, float]]:
    """Health checks and empty claims for `seconds`: (status, seconds taken) of each."""
    answers = []
    deadline = time.monotonic() + seconds
    body = {"worker_id": "probe", "task_types": ["fault.none"], "wait_seconds": 0}
    while time.monotonic() < deadline:
        for method, path, payload in (("GET", "health", None), ("POST", "tasks/claim", body)):
            started = time.monotonic()
            answer = httpx.request(method, f"{server.api_url}/{path}", json=payload, timeout=30)
            answers.append((answer.status_code, time.monotonic() - started))
    return answers


def blackhole(proxy: FaultProxy, server: LiveServer) -> list[tuple[int, float]]:
    """Swallow every byte for a while, probing meanwhile; the probes' answers."""
    answers: list[tuple[int, float]] = []
    prober = threading.Thread(target=lambda: answers.extend(probe(server, FAULT_SECONDS)))
    proxy.start_blackhole()
    prober.start()
    time.sleep(FAULT_SECONDS)
    proxy.end_blackhole()
    prober.join(timeout=60)
    assert not prober.is_alive(), "a probe never got its answer"
    return answers


def healthy(server: LiveServer) -> bool:
    try:
        return httpx.get(server.api_url + "/health", timeout=10).status_code == 200
    except httpx.TransportError:
        return False


def recovered(servers: list[LiveServer]) -> bool:
    return all(wait_for(lambda s=s: healthy(s), 15) for s in servers)


def drain(load: Load, url: str, runner: threading.Thread) -> None:
    load.stop_producing.set()
    with Client(url) as client:

        def empty() -> bool:
            totals = client.stats()["totals"]
            return bool(totals["pending"] == totals["processing"] == 0)

        assert wait_for(empty, 60), "the queue did not drain after the faults"
    load.stop_claiming.set()
    runner.join(timeout=30)
    assert not runner.is_alive()


def inject_faults(proxy: FaultProxy, servers: list[LiveServer]) -> list[tuple[int, float]]:
    """Each fault in turn; the probes' answers while the database was unreachable."""
    proxy.latency_seconds = LATENCY_SECONDS
    time.sleep(FAULT_SECONDS)
    proxy.latency_seconds = 0.0
    answers = blackhole(proxy, servers[0])
    assert recovered(servers), "no recovery after the blackhole"
    proxy.refuse = True
    proxy.reset_all()
    answers += probe(servers[1], FAULT_SECONDS / 2)
    proxy.refuse = False
    assert recovered(servers), "no recovery after the resets"
    proxy.cut_commits = True
    time.sleep(FAULT_SECONDS)
    proxy.cut_commits = False
    assert recovered(servers), "no recovery after the cut commits"
    return answers


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("backend", ["mariadb", "postgres"], indirect=True)
def test_network_faults_between_api_and_database(
    backend: str, db_url: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    servers: list[LiveServer] = []
    try:
        servers += [serve(tmp_path, through(db_url, proxy), free_port()) for _ in range(2)]
        history, errors = History(), []
        load = Load(history, [server.api_url for server in servers])
        runner = threading.Thread(
            target=lambda: errors.extend(run_threads(load.threads(), 150 * SCALE)), daemon=True
        )
        runner.start()
        answers: list[tuple[int, float]] = []
        for _ in range(SCALE):
            time.sleep(1.0)
            answers += inject_faults(proxy, servers)
        time.sleep(1.0)
        drain(load, servers[0].api_url, runner)
        assert errors == []
        with Client(servers[1].api_url) as client:
            tasks = [task for task in all_tasks(client) if task["type"] == "crash.item"]
    finally:
        for server in servers:
            server.stop()
    report = check(history.events, final_states(tasks))
    unknown = sum(1 for e in history.events if e.outcome == "unknown")
    slowest = max(took for _, took in answers)
    print(f"\n{backend}: {len(tasks)} tasks, {SCALE * 4} faults, {proxy.commits_cut} commits cut, "
          f"{unknown} calls of unknown outcome, probes {sorted({s for s, _ in answers})} "
          f"slowest {slowest:.2f} s; {report}")  # fmt: skip
    assert {status for status, _ in answers} <= {200, 503}
    assert 503 in {status for status, _ in answers}
    assert slowest < FAULT_SECONDS + CONNECT_TIMEOUT + 2
    assert proxy.commits_cut > 0
    acknowledged = {tid for e in history.ok("create") for tid in e.task_ids}
    assert acknowledged <= {task["id"] for task in tasks}
    assert report.lost == []
    assert report.unexpected == []
    assert report.created_twice == []
    assert report.completed_twice == []
    assert report.completion_lost == []
    assert report.unexplained_duplicates == []
    assert all(e.error is None or "internal" not in e.error.lower() for e in history.events)
