"""Who is calling: API keys with roles, anonymous access on loopback, rate limits."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from logging import INFO, WARNING
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from taskmanager.errors import Forbidden, RateLimited, Unauthorized
from taskmanager.models import ApiKeyInfo
from taskmanager.roles import Role
from taskmanager.server.settings import Settings
from taskmanager.storage import Store

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """The caller: a key (id, name, role), or the anonymous admin of a keyless loopback server."""

    key_id: str | None
    name: str
    role: Role


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this host only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def key_from(request: Request) -> str | None:
    """The key a request carries, as `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("malformed Authorization header: use `Bearer <key>`")
        return value.strip()
    return request.headers.get("x-api-key")


class Authenticator:
    """Turns request headers into a Principal. Lookups are cached for `cache_seconds`, so a
    revoked key stops working within that time in every server process."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._anonymous_possible = settings.allow_anonymous or is_loopback(settings.host)
        self._ttl = settings.auth_cache_seconds
        self._keys: dict[str, tuple[float, ApiKeyInfo | None]] = {}
        self._keyless: tuple[float, bool] = (-1.0, False)
        self._lock = threading.Lock()

    def identify(self, key: str | None, gate: Callable[[], None] = lambda: None) -> Principal:
        """The caller with this key; `gate` runs before a lookup that must ask the database."""
        if key is None:
            if self.anonymous_allowed():
                return Principal(None, ANONYMOUS, Role.ADMIN)
            raise Unauthorized(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
            )
        info = self._lookup(key, gate)
        if info is None:
            raise Unauthorized("unknown API key")
        if info.revoked_at is not None:
            raise Unauthorized("this API key was revoked")
        return Principal(info.id, info.name, info.role)

    def needs_database(self, key: str | None) -> bool:
        """Whether identifying this key now would ask the database (its cached answer is stale)."""
        now = time.monotonic()
        if key is None:
            return self._anonymous_possible and now - self._keyless[0] > self._ttl
        with self._lock:
            cached = self._keys.get(key)
        return cached is None or now - cached[0] > self._ttl

    def anonymous_allowed(self) -> bool:
        """Keyless requests pass only while no key exists, and only on loopback (or if told)."""
        if not self._anonymous_possible:
            return False
        now = time.monotonic()
        checked_at, keyless = self._keyless
        if now - checked_at > self._ttl:
            keyless = self._store.count_active_api_keys() == 0
            self._keyless = (now, keyless)
        return keyless

    def _lookup(self, key: str, gate: Callable[[], None]) -> ApiKeyInfo | None:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(key)
        if cached is not None and now - cached[0] <= self._ttl:
            return cached[1]
        gate()
        info = self._store.find_api_key(key)
        with self._lock:
            if len(self._keys) > 10_000:  # bounded: unknown keys must not grow it forever
                self._keys.clear()
            self._keys[key] = (now, info)
        return info


class RateLimiter:
    """A token bucket per caller: `rate` requests a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, what: str = "for this key") -> None:
        self._rate = rate
        self._burst = max(1, burst)
        self._what = what
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, caller: str, *, spend: bool = True) -> None:
        """429 when the caller's bucket is empty; else take a token (unless `spend` is off)."""
        if self._rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(caller, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - stamp) * self._rate)
            self._buckets[caller] = (tokens - 1 if spend and tokens >= 1 else tokens, now)
            if len(self._buckets) > 100_000:  # bounded: many callers must not grow it forever
                self._buckets.clear()
        if tokens < 1:
            wait = (1 - tokens) / self._rate
            raise RateLimited(
                f"too many requests: at most {self._rate:g} a second {self._what}",
                {"retry_after_seconds": round(wait, 3)},
                headers={"Retry-After": str(max(1, round(wait + 0.5)))},
            )


def _caller(request: Request) -> Principal:
    """Who calls; failed authentications are throttled per client address, the rest per key.

    An address that used up its allowance of failures is answered 429 before its next key
    is looked up, so a flood of guesses costs no database work; keys this process already
    knows to be good still pass.
    """
    auth: Authenticator = request.app.state.authenticator
    failures: RateLimiter = request.app.state.auth_failure_limiter
    client = request.client.host if request.client else "unknown"
    try:
        principal = auth.identify(key_from(request), lambda: failures.check(client, spend=False))
    except Unauthorized:
        failures.check(client)
        raise
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(principal.key_id or f"{ANONYMOUS}@{client}")
    return principal


async def _caller_on_loop(request: Request) -> Principal:
    """`_caller` on the event loop when the answer is cached, in a thread when it needs the
    database: most requests are then spared a thread-pool hop."""
    auth: Authenticator = request.app.state.authenticator
    try:
        key = key_from(request)
    except Unauthorized:
        return _caller(request)  # throttles the address, then raises
    if auth.needs_database(key):
        return await run_in_threadpool(_caller, request)
    return _caller(request)


def authorize(principal: Principal, *roles: Role) -> Principal:
    """The caller, if it is an admin or has one of these roles; else 403."""
    if principal.role is not Role.ADMIN and principal.role not in roles:
        wanted = " or ".join(sorted(role.value for role in {Role.ADMIN, *roles}))
        raise Forbidden(
            f"this key has the {principal.role.value} role; this needs {wanted}",
            {"role": principal.role.value},
        )
    return principal


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through admins and the given roles, and says who called."""

    async def dependency(principal: Annotated[Principal, Depends(_caller_on_loop)]) -> Principal:
        return authorize(principal, *roles)

    return dependency


EVERY_ROLE = (Role.PRODUCER, Role.WORKER)
Reader = Annotated[Principal, Depends(require(*EVERY_ROLE))]
Producer = Annotated[Principal, Depends(require(Role.PRODUCER))]
WorkerRole = Annotated[Principal, Depends(require(Role.WORKER))]
Admin = Annotated[Principal, Depends(require())]


def bootstrap_keys(store: Store, settings: Settings) -> list[tuple[int, str]]:
    """Store the keys the settings name, unless stored already; what to log (level, message)."""
    wanted = [
        (Role.ADMIN, settings.bootstrap_admin_key),
        (Role.WORKER, settings.bootstrap_worker_key),
    ]
    notes = []
    for role, secret in wanted:
        if secret is None:
            continue
        info = store.ensure_api_key(f"bootstrap-{role.value}", role, secret.get_secret_value())
        setting = f"TASKMANAGER_BOOTSTRAP_{role.value.upper()}_KEY"
        if info.revoked_at is not None:
            notes.append((WARNING, f"{setting} names a revoked key ({info.prefix}…): it stays so"))
        elif info.role != role:
            notes.append((WARNING, f"{setting} names a {info.role.value} key ({info.prefix}…)"))
        else:
            notes.append((INFO, f"{setting}: key {info.name} ({info.prefix}…) is active"))
    return notes


def access_at_start(store: Store, settings: Settings) -> tuple[bool, str]:
    """Whether the server may start with these keys and this address, and what to say."""
    active = store.count_active_api_keys()
    if active:
        return True, f"{active} API key(s) active: every request but /api/health needs a key"
    if is_loopback(settings.host):
        return True, (
            "no API key exists: accepting anonymous requests, on loopback only; "
            "create keys with `taskmanager keys create --role ...`"
        )
    if settings.allow_anonymous:
        return True, (
            f"no API key exists and --allow-anonymous is set: anyone who can reach "
            f"{settings.host}:{settings.port} may use every endpoint"
        )
    return False, (
        f"refusing to listen on {settings.host} without API keys: create one with "
        "`taskmanager keys create --role admin --name ops`, listen on 127.0.0.1, "
        "or pass --allow-anonymous"
    )


def require_token(caller: Principal, lease_token: str | None) -> None:
    """A worker key acts only on leases it holds: it must show the lease token.

    Only the claim that leased a task learned its token, so no worker can complete or fail
    another worker's task. Admins and anonymous loopback callers may omit it.
    """
    if caller.role == Role.WORKER and lease_token is None:
        raise Forbidden("a worker key must send the task's lease_token")
