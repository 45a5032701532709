"""Requests written straight to bytes, as `httpx.Client` would send them, and their answers.

The clients' calls are small JSON documents to one base URL with fixed headers: the part of
the request that never changes is written once per client, and each call adds its request line,
its length and its body. Whatever httpx would send differently (a path it would quote or
normalize, cookies, auth taken from the URL) is left to httpx: `Direct.of` or `Direct.request`
answers None for it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from taskmanager.transport.wire import Origin, ResponseReader

BODY_METHODS = ("POST", "PUT", "PATCH")
"""Methods httpx sends a `Content-Length: 0` with when they carry no body."""
PLAIN_PATH = re.compile(r"[A-Za-z0-9._~/-]*")
"""Paths httpx sends as they are: nothing to quote, no query, no fragment."""
DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|$)")
"""A `.` or `..` segment, which httpx would resolve away."""
HTTPX_LOG = logging.getLogger("httpx")
ENCODE_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""httpx's own JSON encoding, the encoder built once: json.dumps with options builds one a call."""


class Direct:
    """The bytes of one client's requests, equal to those httpx builds for the same call."""

    __slots__ = ("base", "host", "origin", "prefix", "rest")

    def __init__(self, base: httpx.URL, origin: Origin, host: bytes, rest: bytes) -> None:
        self.base = base
        self.origin = origin
        self.prefix = base.raw_path
        self.host = host
        """The request line's end and the Host header, which httpx sends first."""
        self.rest = rest
        """The client's headers (httpx's defaults, Authorization), each after a line break."""

    @classmethod
    def of(cls, client: httpx.Client | httpx.AsyncClient) -> Direct | None:
        """How `client` would write its requests; None when some need httpx's request objects."""
        base = client.base_url
        scheme = base.scheme
        headers = client.headers.raw
        if (
            scheme not in ("http", "https")
            or base.userinfo
            or base.query
            or base.fragment
            or client.params
            or client.cookies
            or client.auth is not None
            or any(client.event_hooks.values())
            or any(b"\r" in value or b"\n" in value for _, value in headers)
        ):
            return None
        origin = (scheme, base.host, base.port or (443 if scheme == "https" else 80))
        rest = b"".join(b"\r\n" + name + b": " + value for name, value in headers)
        return cls(base, origin, b" HTTP/1.1\r\nHost: " + base.netloc, rest)

    def request(self, method: str, path: str, params: Mapping[str, Any], body: Any) -> bytes | None:
        """A call's request, ready to send in one write; None for a path httpx would rewrite."""
        if not PLAIN_PATH.fullmatch(path) or DOT_SEGMENT.search(path):
            return None
        target = self.prefix + path.encode("ascii")
        if params:
            target += b"?" + str(httpx.QueryParams(params)).encode("ascii")
        head = method.encode("ascii") + b" " + target + self.host
        if body is not None:
            # httpx's own encoding: the same bytes, and the same ValueError for NaN.
            content = ENCODE_JSON(body).encode("utf-8")
            length = b"\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n"
            return head + self.rest + length % len(content) + content
        if method in BODY_METHODS:
            return head + b"\r\nContent-Length: 0" + self.rest + b"\r\n\r\n"
        return head + self.rest + b"\r\n\r\n"

    def log(self, method: str, data: bytes, reader: ResponseReader) -> None:
        """The line httpx's client logs at INFO for each answer, when someone listens."""
        if HTTPX_LOG.isEnabledFor(logging.INFO):
            url = self.base.copy_with(raw_path=data.split(b" ", 2)[1])
            reason = reader.reason.decode("ascii", errors="ignore")
            HTTPX_LOG.info(
                'HTTP Request: %s %s "HTTP/1.1 %d %s"', method, url, reader.status, reason
            )


def plain(reader: ResponseReader) -> bool:
    """The answer's body is its content and it sets no cookie: httpx would add nothing to it."""
    for name, _ in reader.headers:
        lowered = name.lower()
        if lowered == b"content-encoding" or lowered == b"set-cookie":
            return False
    return True
