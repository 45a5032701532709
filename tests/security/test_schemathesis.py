"""Schemathesis against /api/openapi.json, as each role: no server errors, no answer that
breaks the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taskmanager.roles import Role
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import open_store

ROLES = [Role.PRODUCER, Role.WORKER, Role.ADMIN]
Fuzzed = tuple[FastAPI, dict[Role, str]]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One app and database for the whole run, with a key per role and some tasks to find."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.migrate()
    keys = {role: store.create_api_key(f"fuzz-{role.value}", role)[0] for role in ROLES}
    store.close()
    app = create_app(Settings(database_url=url, migrate_on_start=False, auth_cache_seconds=60))
    yield app, keys
    app.state.store.close()


FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _fuzz(operation: Any, key: str) -> None:
    @FUZZ
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        # Long polls would only slow the run down; everything else is as generated.
        if isinstance(case.body, dict) and "wait_seconds" in case.body:
            case.body["wait_seconds"] = 0
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_the_api_keeps_its_documented_contract(role: Role, fuzzed: Fuzzed) -> None:
    app, keys = fuzzed
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, keys[role])
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.label}: {str(exc)[:500]}")
    assert failures == []
