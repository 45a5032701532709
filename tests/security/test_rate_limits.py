"""Rate limits: per key, and per client address for failed authentications."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import SQLStore, open_store
from tests.security.conftest import Keys, bearer

FAILURE_BURST = 5


class CountingStore:
    """Counts the key lookups that reach the database."""

    def __init__(self, store: SQLStore) -> None:
        self.lookups = 0
        self._find = store.find_api_key
        store.find_api_key = self.find  # type: ignore[method-assign]

    def find(self, key: str) -> Any:
        self.lookups += 1
        return self._find(key)


@pytest.fixture
def limited(
    db_url: str, keys: Keys, clock: ManualClock
) -> Iterator[tuple[TestClient, CountingStore]]:
    settings = Settings(
        database_url=db_url,
        migrate_on_start=False,
        auth_cache_seconds=60,
        rate_limit_per_second=0.5,
        rate_limit_burst=4,
        auth_failure_burst=FAILURE_BURST,
        auth_failure_limit_per_second=0.5,
    )
    store = open_store(db_url, clock=clock)
    assert isinstance(store, SQLStore)
    counting = CountingStore(store)
    app = create_app(settings, store=store, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, counting


def _slowed_down(answer: Any) -> bool:
    return (
        answer.status_code == 429
        and answer.json()["error"] == "rate_limited"
        and int(answer.headers["Retry-After"]) >= 1
    )


def test_one_key_is_limited_while_another_is_not(
    limited: tuple[TestClient, CountingStore], keys: Keys
) -> None:
    client, _ = limited
    answers = [client.get("/api/stats", headers=bearer(keys.producer)) for _ in range(8)]
    assert [a.status_code for a in answers[:4]] == [200] * 4
    assert all(_slowed_down(a) for a in answers[4:])
    # The other key has its own allowance, from the same address.
    assert client.get("/api/stats", headers=bearer(keys.worker)).status_code == 200
    assert client.get("/api/stats", headers={"X-API-Key": keys.admin}).status_code == 200


def test_a_flood_of_bad_keys_is_slowed_down_without_a_lookup_each(
    limited: tuple[TestClient, CountingStore], keys: Keys
) -> None:
    client, counting = limited
    assert client.get("/api/stats", headers=bearer(keys.worker)).status_code == 200
    before = counting.lookups
    flood = [
        client.get("/api/stats", headers={"X-API-Key": f"tm_guess{n:040d}"}) for n in range(30)
    ]
    assert [a.status_code for a in flood[:FAILURE_BURST]] == [401] * FAILURE_BURST
    assert all(_slowed_down(a) for a in flood[FAILURE_BURST:])
    assert "failed" in flood[-1].json()["message"]
    # Once the address is throttled its guesses no longer reach the database ...
    assert counting.lookups - before == FAILURE_BURST
    # ... and revoked keys, malformed headers and missing keys count as failures too.
    for headers in (bearer(keys.revoked), {"Authorization": "Basic x"}, {}):
        assert _slowed_down(client.get("/api/stats", headers=headers))
    # A good key this process already knows keeps working from the same address.
    assert client.get("/api/stats", headers=bearer(keys.worker)).status_code == 200
