"""`taskmanager serve --ssl-certfile --ssl-keyfile` serves HTTPS that clients can verify."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def _wait_for(url: str, cert: Path, process: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            return httpx.get(url, verify=ssl.create_default_context(cafile=cert), timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the HTTPS server did not answer")


def test_https_is_served_and_verified(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "TASKMANAGER_DATABASE_URL": f"sqlite:///{tmp_path}/tls.db"}
    command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(port),
               "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"https://127.0.0.1:{port}/api/health"
        assert _wait_for(url, cert, process).status_code == 200
        # A client that does not trust the certificate refuses to talk: verification is on.
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=15)
