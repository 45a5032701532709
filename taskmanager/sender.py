"""`Sender`: what `Client` and `AsyncClient` share, from a call to its answer or its error.

The base URL, headers, timeouts and TLS options of a client; the request bytes a call goes
as on the client's own transport (`taskmanager.transport.direct`), the timeouts httpx would
give it, and how an answer becomes the call's result or an exception of the error tree.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from typing import Any, TypeVar

import httpx

from taskmanager.calls import Call
from taskmanager.error_answers import error_from, error_in
from taskmanager.errors import Unavailable
from taskmanager.transport.direct import Direct, plain
from taskmanager.transport.wire import ResponseReader

T = TypeVar("T")
log = logging.getLogger("taskmanager.client")


class Sender:
    """What both clients share: the base URL, headers, timeouts, TLS and error mapping."""

    _http: httpx.Client | httpx.AsyncClient
    _direct: Direct | None
    """How calls go straight to the client's own transport; None when all go through httpx."""

    def __init__(
        self, api_url: str, api_key: str | None, timeout: float, verify: bool | str
    ) -> None:
        self.api_url = api_url.rstrip("/")
        limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._limits = limits.as_dict()
        self._options: dict[str, Any] = {
            "base_url": self.api_url + "/",
            "headers": {"Authorization": f"Bearer {api_key}"} if api_key else {},
            "timeout": limits,
            "verify": ssl.create_default_context(cafile=verify)
            if isinstance(verify, str)
            else verify,
        }

    def _request(self, call: Call[Any]) -> tuple[Direct, bytes] | None:
        """The call's request bytes for the client's own transport; None to go through httpx."""
        direct = self._direct
        if direct is None or self._http.is_closed:
            return None
        data = direct.request(call.method, call.path, call.params, call.json)
        return None if data is None else (direct, data)

    def _timeouts(self, call: Call[Any]) -> dict[str, float | None]:
        """The timeouts httpx would give the call: its own for each phase, else the client's."""
        if call.timeout is None:
            return self._limits
        return dict.fromkeys(("connect", "read", "write", "pool"), call.timeout)

    @staticmethod
    def _extra(call: Call[Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {"json": call.json, "params": call.params}
        if call.timeout is not None:
            extra["timeout"] = call.timeout
        return extra

    def _unreachable(self, call: Call[Any], exc: Exception, started: float) -> Unavailable:
        log.debug(
            "%s %s/%s failed after %s: %r",
            call.method,
            self.api_url,
            call.path,
            _since(started),
            exc,
        )
        return Unavailable(f"cannot reach {self.api_url}: {exc or type(exc).__name__}")

    def _read(self, call: Call[T], response: httpx.Response, started: float) -> T:
        self._log(call, response.status_code, started)
        if response.status_code >= 400:
            raise error_from(response)
        return call.read(response.json())

    def _answer(
        self, call: Call[T], sent: tuple[Direct, bytes], reader: ResponseReader, started: float
    ) -> T:
        """Read an answer from the client's own transport as `_read` reads httpx's."""
        direct, data = sent
        direct.log(call.method, data, reader)
        if not plain(reader):
            return self._read(call, self._response(call, reader), started)
        status = reader.status
        self._log(call, status, started)
        content = b"".join(reader.body)
        if status >= 400:
            raise error_in(status, reader.headers, content)
        return call.read(json.loads(content))

    def _response(self, call: Call[Any], reader: ResponseReader) -> httpx.Response:
        """The answer as httpx's client makes it: its body decoded, its cookies kept."""
        response = reader.response()
        response.request = self._http.build_request(call.method, call.path, **self._extra(call))
        response.read()
        self._http.cookies.extract_cookies(response)
        if self._http.cookies:
            # httpx sends the cookies back with each request from now on.
            self._direct = None
        return response

    def _log(self, call: Call[Any], status: int, started: float) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return  # each answer would format its duration for nobody
        log.debug(
            "%s %s/%s -> %d in %s", call.method, self.api_url, call.path, status, _since(started)
        )


def _since(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.0f} ms"
