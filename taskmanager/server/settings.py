"""Server settings: one object, read from `TASKMANAGER_*` environment variables or passed in."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from taskmanager.policy import RetryPolicy
from taskmanager.retention import PurgePlan, parse_duration, parse_statuses
from taskmanager.storage.engine import EngineOptions, backend_of

MIN_KEY_LENGTH = 32
# Each process holds its own connection pool and about 100 MB: past this, add hosts instead.
MAX_AUTO_PROCESSES = 4


class Settings(BaseSettings):
    """Every server setting, with its default. Environment variables use the prefix TASKMANAGER_."""

    model_config = SettingsConfigDict(env_prefix="TASKMANAGER_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./taskmanager.db",
        description="Where tasks live; the scheme picks the backend (sqlite://, mysql://, postgresql://).",
    )
    host: str = Field("127.0.0.1", description="Address `taskmanager serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `taskmanager serve` listens on.")
    processes: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Processes of `taskmanager serve` sharing the port; unset: 1 on SQLite, "
        f"one per CPU (at most {MAX_AUTO_PROCESSES}) on MariaDB/MySQL and PostgreSQL.",
    )
    migrate_on_start: bool = Field(True, description="Apply pending migrations when serving.")
    default_lease_seconds: float = Field(60.0, ge=1, le=43200, description="Lease of a claim.")
    default_max_attempts: int = Field(3, ge=1, le=1000, description="Attempts before `failed`.")
    retry_base_seconds: float = Field(2.0, ge=0, description="Backoff after the first failure.")
    retry_max_seconds: float = Field(3600.0, ge=0, description="Cap on any backoff delay.")
    retry_jitter: float = Field(0.2, ge=0, le=1, description="Backoff spread, ± this fraction.")
    long_poll_recheck_seconds: float = Field(
        5.0, gt=0, le=30, description="How often an idle long poll re-reads the database anyway."
    )
    max_page_size: int = Field(500, ge=1, le=10000, description="Largest `limit` of a task list.")
    db_pool_size: int = Field(10, ge=1, le=500, description="Connections kept open per process.")
    db_max_overflow: int = Field(
        20, ge=0, le=1000, description="Extra connections a process may open under load."
    )
    db_pool_timeout_seconds: float = Field(
        10.0, gt=0, description="How long a request waits for a free connection before a 503."
    )
    db_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="How long connecting to MariaDB/PostgreSQL may take before a 503."
    )
    watch_interval_seconds: float = Field(
        0.2,
        gt=0,
        le=10,
        description="How often a process looks for tasks created by others while claims wait "
        "(MariaDB/MySQL and SQLite; PostgreSQL is told at once by LISTEN/NOTIFY).",
    )
    sqlite_synchronous: str = Field(
        "NORMAL",
        pattern="^(OFF|NORMAL|FULL|EXTRA)$",
        description="SQLite `synchronous` pragma; NORMAL with WAL survives process crashes.",
    )
    sqlite_busy_timeout_ms: int = Field(30000, ge=0, description="SQLite busy timeout.")
    store_calls: str = Field(
        "auto",
        pattern="^(auto|event-loop|threads)$",
        description="Where the busiest routes run their database call: `event-loop` (no "
        "thread hop; every request of the process waits while one runs), `threads`, or `auto`: "
        "the event loop on SQLite served by one process, threads otherwise.",
    )
    log_level: str = Field("info", description="Server log level.")
    allow_anonymous: bool = Field(
        False,
        description="Accept requests without a key while no key exists, even when listening "
        "on an address other than loopback.",
    )
    bootstrap_admin_key: SecretStr | None = Field(
        None,
        description="An admin key (at least 32 characters, of your choosing) the server stores "
        "at start unless it exists, so that a server beyond loopback has a key from its first "
        "start; e.g. from a Kubernetes Secret. Unset: none.",
    )
    bootstrap_worker_key: SecretStr | None = Field(
        None,
        description="The same for a worker key, the one the deployment's workers are given.",
    )
    auth_cache_seconds: float = Field(
        5.0, ge=0, le=300, description="How long a key lookup is cached (a revocation's delay)."
    )
    rate_limit_per_second: float = Field(
        0.0,
        ge=0,
        description="Requests a second allowed per key (or per anonymous client); 0: off.",
    )
    rate_limit_burst: int = Field(
        200, ge=1, description="Requests a key may make at once before the rate limit applies."
    )
    auth_failure_limit_per_second: float = Field(
        1.0,
        ge=0,
        description="Failed authentications a second allowed per client address, beyond the "
        "burst; past it the address is answered 429 without a key lookup; 0: off.",
    )
    auth_failure_burst: int = Field(
        100, ge=1, description="Failed authentications an address may make before that limit."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="Server logs: `text`, or `json` lines."
    )
    metrics_require_key: bool = Field(
        False, description="Whether GET /metrics asks for an API key like the API does."
    )
    purge_interval_minutes: float = Field(
        0.0, ge=0, description="Purge old finished tasks in the background this often; 0: never."
    )
    purge_older_than: str = Field(
        "7d", description="Background purge: finished longer ago than this (30m, 12h, 7d)."
    )
    purge_statuses: str = Field(
        "completed", description="Background purge: these finished statuses, comma-separated."
    )
    purge_batch_size: int = Field(
        500, ge=1, le=10000, description="Tasks deleted per purge transaction."
    )

    @field_validator("bootstrap_admin_key", "bootstrap_worker_key")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"a bootstrap key needs at least {MIN_KEY_LENGTH} characters (a placeholder "
                "such as change-me is refused); make one with "
                "python3 -c 'import secrets; print(\"tm_\" + secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("purge_older_than")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("purge_statuses")
    @classmethod
    def _statuses(cls, value: str) -> str:
        parse_statuses(value)
        return value

    def purge_plan(self) -> PurgePlan | None:
        """The background purge these settings ask for, if any."""
        if self.purge_interval_minutes <= 0:
            return None
        return PurgePlan(
            parse_statuses(self.purge_statuses),
            parse_duration(self.purge_older_than),
            self.purge_batch_size,
        )

    def server_processes(self) -> int:
        """How many processes `taskmanager serve` runs: `processes`, else the machine's choice.

        SQLite takes one writer at a time, so more processes on one file mostly wait for each
        other (and each costs its memory); a database server takes one per usable CPU.
        """
        if self.processes is not None:
            return self.processes
        if backend_of(self.database_url) == "sqlite":
            return 1
        return max(1, min(MAX_AUTO_PROCESSES, _usable_cpus()))

    def store_on_event_loop(self, embedded: bool) -> bool:
        """Whether the busiest routes call a store (`embedded`: SQLite's) on the event loop,
        not in a thread.

        A SQLite call is short local work, shorter than the thread-pool hop around it; a
        database server's is network round trips, during which the loop must serve others.
        With several processes on one SQLite file, a call may wait for another process's write
        lock, and would hold up every request of its process meanwhile.
        """
        if self.store_calls != "auto":
            return self.store_calls == "event-loop"
        return embedded and self.server_processes() == 1

    def engine_options(self) -> EngineOptions:
        """The connection settings for the storage layer."""
        return EngineOptions(
            pool_size=self.db_pool_size,
            max_overflow=self.db_max_overflow,
            pool_timeout_seconds=self.db_pool_timeout_seconds,
            connect_timeout_seconds=self.db_connect_timeout_seconds,
            sqlite_synchronous=self.sqlite_synchronous,
            sqlite_busy_timeout_ms=self.sqlite_busy_timeout_ms,
        )

    def retry_policy(self) -> RetryPolicy:
        """The backoff these settings describe."""
        return RetryPolicy(
            base_seconds=self.retry_base_seconds,
            cap_seconds=self.retry_max_seconds,
            jitter=self.retry_jitter,
        )


def _usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's share), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
