"""The database's clock, read cheaply: the offset from the host's clock is measured now and then."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("taskmanager.storage")

_NOW_SQL = {
    "postgresql": "SELECT clock_timestamp() AT TIME ZONE 'UTC'",
    "mysql": "SELECT UTC_TIMESTAMP(6)",
    "mariadb": "SELECT UTC_TIMESTAMP(6)",
}


class DatabaseClock:
    """Now, by the database server's clock, so that API hosts with skewed clocks agree."""

    def __init__(self, engine: Engine, refresh_seconds: float = 30.0) -> None:
        self._engine = engine
        self._sql = text(_NOW_SQL[engine.dialect.name])
        self._refresh = refresh_seconds
        self._offset = timedelta(0)
        self._measured_at = -float("inf")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        if time.monotonic() - self._measured_at > self._refresh:
            self._measure()
        return datetime.now(UTC) + self._offset

    def _measure(self) -> None:
        with self._lock:
            if time.monotonic() - self._measured_at <= self._refresh:
                return
            # Even a failed measurement waits for the next period: a database that is down
            # must not make every request pay a connection attempt here too.
            self._measured_at = time.monotonic()
            try:
                with self._engine.connect() as conn:
                    before = datetime.now(UTC)
                    remote = conn.execute(self._sql).scalar_one()
                    after = datetime.now(UTC)
            except SQLAlchemyError as exc:
                log.warning("cannot read the database clock (%s); keeping the last offset", exc)
                return
            midpoint = before + (after - before) / 2
            self._offset = remote.replace(tzinfo=UTC) - midpoint
