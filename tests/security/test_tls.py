"""`taskmanager serve --ssl-certfile --ssl-keyfile` serves HTTPS that clients and workers verify."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskmanager.client import Client
from tests.conftest import free_port, self_signed
from tests.php.conftest import PHP, PHP_DIR


def _wait_for(url: str, cert: Path, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            return httpx.get(url, verify=ssl.create_default_context(cafile=cert), timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the HTTPS server did not answer")


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS API and the certificate that signs it."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "TASKMANAGER_DATABASE_URL": f"sqlite:///{tmp_path}/tls.db"}
    command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(port),
               "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        api_url = f"https://127.0.0.1:{port}/api"
        assert _wait_for(api_url + "/health", cert, process).status_code == 200
        yield api_url, cert
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_https_is_served_and_clients_verify_it(https_server: tuple[str, Path]) -> None:
    api_url, cert = https_server
    # A client that does not trust the certificate refuses to talk: verification is on.
    with pytest.raises(httpx.ConnectError):
        httpx.get(api_url + "/health", timeout=5)
    with Client(api_url, verify=str(cert)) as client:
        assert client.health()["status"] == "ok"


def _worker(kind: str, api_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "taskmanager", "worker"]
    if kind == "php":
        command = [PHP or "php", str(PHP_DIR / "worker.php")]
    args = [f"--api-url={api_url}", "--max-runs=1", "--poll-interval=5", *extra]
    env = {k: v for k, v in os.environ.items() if k != "TASKMANAGER_CA_BUNDLE"}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(
    "kind", ["python", pytest.param("php", marks=pytest.mark.skipif(PHP is None, reason="no php"))]
)
def test_the_worker_trusts_a_given_ca_bundle_and_nothing_else(
    https_server: tuple[str, Path], kind: str
) -> None:
    api_url, cert = https_server
    with Client(api_url, verify=str(cert)) as client:
        task = client.create_task("example.echo", {"message": "over TLS"})
        refused = _worker(kind, api_url)
        assert refused.returncode == 1
        assert f"the TaskManager API at {api_url} is not reachable" in refused.stderr
        assert "certificate" in refused.stderr.lower()
        assert "Traceback" not in refused.stderr and "PHP Warning" not in refused.stderr
        assert client.get_task(task["id"])["status"] == "pending"
        done = _worker(kind, api_url, f"--ca-bundle={cert}")
        assert done.returncode == 0, done.stderr
        assert client.get_task(task["id"])["status"] == "completed"
