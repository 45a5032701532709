"""Lean HTTP/1.1 transports for the SDK's clients, and when httpx's own must serve instead.

httpx's default transport (httpcore, h11 and anyio) costs the client about 0.5-0.7 ms of CPU
per request; these send the same requests on the standard library's sockets and parse answers
with httptools' C parser. They speak plain HTTP/1.1 to the API and nothing else: when a proxy
is configured, the clients keep httpx's transport, which knows how to go through it.
"""

from __future__ import annotations

from urllib.request import getproxies

from taskmanager.transport.aio import AsyncHttp11Transport
from taskmanager.transport.sync import Http11Transport

__all__ = ["AsyncHttp11Transport", "Http11Transport", "proxy_configured"]


def proxy_configured() -> bool:
    """A proxy is set where httpx looks for one (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, ...)."""
    found = getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))
