"""The start-up check and the database clock, against the real database servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskmanager.storage import SQLStore, open_store
from taskmanager.storage.dbclock import DatabaseClock
from tests.backends import BACKENDS

SERVERS = [name for name in BACKENDS if name != "sqlite"]


def test_durable_servers_start_without_warnings(store: SQLStore) -> None:
    # The servers the suite runs on keep fsync and flush-at-commit on: no false alarms.
    assert store.check_server() == []


@pytest.mark.parametrize("server", SERVERS)
def test_server_stores_keep_time_by_the_database_clock(
    server: str, server_databases: dict[str, str]
) -> None:
    store = open_store(server_databases[server])
    try:
        assert isinstance(store, SQLStore)
        assert isinstance(store.clock, DatabaseClock)
        now = store.clock.now()
        # Same machine: the database's clock and ours agree closely, and it is UTC.
        assert now.tzinfo is not None
        assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    finally:
        store.close()
