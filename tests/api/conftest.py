"""API fixtures: an app with other settings, for the rules that settings change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings

MakeApi = Callable[..., TestClient]


@pytest.fixture
def make_api(db_url: str, clock: ManualClock) -> Iterator[MakeApi]:
    """Start the real app on this test's database with some settings changed."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            settings = Settings(database_url=db_url, migrate_on_start=False, **overrides)
            client = TestClient(create_app(settings, clock=clock), raise_server_exceptions=False)
            return stack.enter_context(client)

        yield make
