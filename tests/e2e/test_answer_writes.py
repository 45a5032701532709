"""`taskmanager serve` sends each answer's head and body in one write: a worker waiting in a
long poll wakes once for its answer, not once for the head and again for the body."""

from __future__ import annotations

import json
import socket
import time

from tests.conftest import LiveServer

TRIES = 20


def _first_read(server: LiveServer, method: str, path: str, body: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = f"{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        sock.sendall(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        return sock.recv(65536)  # whatever the first segment brought


def test_the_first_read_of_an_answer_holds_its_body(live_server: LiveServer) -> None:
    for _ in range(TRIES):
        created = _first_read(live_server, "POST", "/api/tasks", b'{"type": "one.write"}')
        head, _, body = created.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201 ")
        assert json.loads(body)["type"] == "one.write"
        time.sleep(0.01)  # an idle server between tries, as a waiting worker meets it
    claim = json.dumps({"worker_id": "w", "limit": 5}).encode()
    claimed = _first_read(live_server, "POST", "/api/tasks/claim/batch", claim)
    assert len(json.loads(claimed.partition(b"\r\n\r\n")[2])["tasks"]) == 5
    missing = _first_read(live_server, "GET", "/api/tasks/nope", b"")
    assert json.loads(missing.partition(b"\r\n\r\n")[2])["error"] == "not_found"
