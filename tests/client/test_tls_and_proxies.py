"""The clients over HTTPS with a self-signed certificate, and through a proxy from the env."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop

from taskmanager.client import AsyncClient, Client
from taskmanager.errors import Unavailable
from taskmanager.transport import AsyncHttp11Transport, Http11Transport
from tests.client.servers import HEALTH, Health, serving
from tests.conftest import self_signed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https(certificate: tuple[Path, Path]) -> Iterator[tuple[str, list[int]]]:
    """(API URL, ports seen) of a health server over TLS with the self-signed certificate."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate)
    with serving(Health, tls) as served:
        yield served


def checks_by_each_client(url: str, times: int, **options: Any) -> list[dict[str, Any]]:
    """`times` health checks by `Client`, then by `AsyncClient` on asyncio and on uvloop."""
    with Client(url, **options) as client:
        answers = [client.health() for _ in range(times)]

    async def main() -> list[dict[str, Any]]:
        async with AsyncClient(url, **options) as client:
            return [await client.health() for _ in range(times)]

    return answers + asyncio.run(main()) + uvloop.run(main())


def test_https_trusting_the_certificate_keeps_one_connection_per_client(
    https: tuple[str, list[int]], certificate: tuple[Path, Path]
) -> None:
    url, ports = https
    assert checks_by_each_client(url, 5, verify=str(certificate[0])) == [HEALTH] * 15
    assert len(ports) == 15 and len(set(ports)) == 3


def test_https_with_checks_off_accepts_any_certificate(https: tuple[str, list[int]]) -> None:
    url, _ = https
    assert checks_by_each_client(url, 2, verify=False) == [HEALTH] * 6


def test_https_refuses_a_certificate_nobody_trusts(https: tuple[str, list[int]]) -> None:
    url, ports = https
    with Client(url, timeout=5) as client, pytest.raises(Unavailable, match="CERTIFICATE"):
        client.health()

    async def main() -> None:
        async with AsyncClient(url, timeout=5) as client:
            await client.health()

    with pytest.raises(Unavailable, match="CERTIFICATE"):
        asyncio.run(main())
    assert ports == []


def test_a_proxy_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's own transport serves then, and goes through the proxy."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    # The stand-in proxy answers every request itself, whatever URL it names.
    with serving(Health) as (proxy_url, ports):
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/api"))
        monkeypatch.setenv("http_proxy", proxy_url.removesuffix("/api"))
        url = "http://api.invalid/api"
        assert not isinstance(Client(url)._http._transport, Http11Transport)
        assert not isinstance(AsyncClient(url)._http._transport, AsyncHttp11Transport)
        assert checks_by_each_client(url, 2) == [HEALTH] * 6
    assert len(ports) == 6
