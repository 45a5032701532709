"""Schemathesis against /api/openapi.json, as each role: no server errors, no answer that
breaks the documented schema.

Every role runs on every backend: what one database refuses and another stores is a 500 only
there. The servers add about 25 s to the SQLite run (docs/reliability.md).
"""

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
from tests.backends import BACKENDS, empty_tables

ROLES = [Role.PRODUCER, Role.WORKER, Role.ADMIN]
Fuzzed = tuple[FastAPI, dict[Role, str]]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


RUNS = [(backend, role) for backend in BACKENDS for role in ROLES]


@pytest.fixture(scope="module")
def fuzz_databases(
    tmp_path_factory: pytest.TempPathFactory, server_databases: dict[str, str]
) -> dict[str, str]:
    """One database per backend for the whole module (the server ones emptied first)."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    for url in server_databases.values():
        empty_tables(url)
    return {"sqlite": f"sqlite:///{path}", **server_databases}


@pytest.fixture(scope="module")
def fuzzed_apps() -> Iterator[dict[str, Fuzzed]]:
    """The apps made so far, one per backend, closed at the end of the module."""
    apps: dict[str, Fuzzed] = {}
    yield apps
    for app, _ in apps.values():
        app.state.store.close()


def _fuzzed(url: str) -> Fuzzed:
    """An app on this database, with a key per role."""
    store = open_store(url)
    store.migrate()
    keys = {role: store.create_api_key(f"fuzz-{role.value}", role)[0] for role in ROLES}
    store.close()
    app = create_app(Settings(database_url=url, migrate_on_start=False, auth_cache_seconds=60))
    return app, keys


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
@pytest.mark.parametrize(("backend", "role"), RUNS, ids=[f"{b}-{r.value}" for b, r in RUNS])
def test_the_api_keeps_its_documented_contract(
    backend: str,
    role: Role,
    fuzz_databases: dict[str, str],
    fuzzed_apps: dict[str, Fuzzed],
) -> None:
    if backend not in fuzzed_apps:
        fuzzed_apps[backend] = _fuzzed(fuzz_databases[backend])
    app, keys = fuzzed_apps[backend]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, keys[role])
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.label}: {str(exc)[:500]}")
    assert failures == []
