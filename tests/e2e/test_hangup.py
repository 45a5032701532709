"""A long poll whose caller hangs up leases nothing: a worker that left would never run it."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx

from taskmanager.client import Client
from tests.conftest import LiveServer


def _waiting_claim(server: LiveServer, task_type: str) -> socket.socket:
    """A claim that waits up to 20 s, sent on a raw connection the test can drop."""
    where = urlsplit(server.url)
    body = json.dumps({"worker_id": "left", "task_types": [task_type], "wait_seconds": 20})
    head = (
        f"POST /api/tasks/claim HTTP/1.1\r\nHost: {where.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock = socket.create_connection((where.hostname, where.port))
    sock.sendall((head + body).encode())
    return sock


def test_a_task_created_after_the_waiting_worker_hung_up_stays_pending(
    live_server: LiveServer,
) -> None:
    with Client(live_server.api_url) as client:
        sock = _waiting_claim(live_server, "hangup.test")
        time.sleep(0.5)  # the claim is waiting on the server
        sock.close()
        time.sleep(0.3)
        task = client.create_task("hangup.test", {})
        time.sleep(1.0)
        assert client.get_task(task["id"])["status"] == "pending"
        # and the next worker gets it at once
        claimed = client.claim("here", task_types=["hangup.test"], wait_seconds=0)
        assert claimed is not None and claimed["id"] == task["id"]


def test_a_worker_still_waiting_gets_the_task(live_server: LiveServer) -> None:
    with Client(live_server.api_url) as client:
        sock = _waiting_claim(live_server, "hangup.kept")
        time.sleep(0.5)
        task = client.create_task("hangup.kept", {})
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer or task["id"].encode() not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection after {answer!r}"
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert client.get_task(task["id"])["status"] == "processing"


def _claim_transactions(server: LiveServer) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("taskmanager_claim_duration_seconds_count"):
            return float(line.split()[-1])
    raise AssertionError("no claim count in /metrics")


def test_the_create_leases_the_task_to_the_worker_still_waiting(
    live_server: LiveServer, backend: str
) -> None:
    with Client(live_server.api_url) as client:
        sock = _waiting_claim(live_server, "hangup.handed")
        time.sleep(0.5)
        before = _claim_transactions(live_server)
        task = client.create_task("hangup.handed", {})
        sock.settimeout(10)
        answer = b""
        while task["id"].encode() not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection after {answer!r}"
            answer += chunk
        sock.close()
        # Where the store runs on the event loop (SQLite), the waiting claim answers with what
        # the create's transaction leased it; elsewhere it claims in a transaction of its own.
        expected = before if backend == "sqlite" else before + 1
        assert _claim_transactions(live_server) == expected
        assert client.get_task(task["id"])["worker_id"] == "left"
