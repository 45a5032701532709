"""Task types: defaults for new tasks, and a JSON Schema that their params must meet."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import assert_error, claim_one, create, instant

SCHEMA = {
    "type": "object",
    "properties": {
        "to": {"type": "string", "format": "email"},
        "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}},
        "address": {"type": "object", "properties": {"zip": {"type": "string"}}},
    },
    "required": ["to"],
}


def put(api: TestClient, name: str, **body: Any) -> dict[str, Any]:
    response = api.put(f"/api/task-types/{name}", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_put_returns_the_task_type(api: TestClient, clock: ManualClock) -> None:
    body = put(api, "mail.send", params_schema=SCHEMA, max_attempts=5, description="Send mail")
    assert body["type"] == "mail.send"
    assert body["params_schema"] == SCHEMA
    assert (body["max_attempts"], body["lease_seconds"], body["priority"]) == (5, None, None)
    assert body["description"] == "Send mail"
    assert instant(body["created_at"]) == clock.now()
    assert api.get("/api/task-types/mail.send").json() == body


def test_put_again_replaces_and_keeps_created_at(api: TestClient, clock: ManualClock) -> None:
    first = put(api, "mail.send", max_attempts=5, priority=3)
    clock.advance(60)
    second = put(api, "mail.send", priority=1)
    assert (second["max_attempts"], second["priority"]) == (None, 1)
    assert second["created_at"] == first["created_at"]
    assert instant(second["updated_at"]) == clock.now()


def test_list_task_types_by_name(api: TestClient) -> None:
    for name in ("zeta", "alpha", "mid.one"):
        put(api, name)
    listed = api.get("/api/task-types").json()["task_types"]
    assert [t["type"] for t in listed] == ["alpha", "mid.one", "zeta"]


def test_list_task_types_starts_empty(api: TestClient) -> None:
    assert api.get("/api/task-types").json() == {"task_types": []}


def test_unknown_task_type_is_404(api: TestClient) -> None:
    body = assert_error(api.get("/api/task-types/nothing.here"), 404, "not_found")
    assert body["details"]["type"] == "nothing.here"


def test_defaults_apply_to_new_tasks(api: TestClient) -> None:
    put(api, "report.build", max_attempts=7, priority=4, lease_seconds=300)
    task = create(api, "report.build")
    assert (task["max_attempts"], task["priority"]) == (7, 4)
    claimed = claim_one(api)
    held = instant(claimed["lease_expires_at"]) - instant(claimed["claimed_at"])
    assert held.total_seconds() == 300


def test_task_fields_override_type_defaults(api: TestClient) -> None:
    put(api, "report.build", max_attempts=7, priority=4)
    task = create(api, "report.build", max_attempts=2, priority=-3)
    assert (task["max_attempts"], task["priority"]) == (2, -3)


def test_type_priority_orders_claims(api: TestClient) -> None:
    put(api, "urgent", priority=100)
    create(api, "routine")
    create(api, "urgent")
    assert claim_one(api)["type"] == "urgent"


def test_defaults_do_not_change_existing_tasks(api: TestClient) -> None:
    task = create(api, "report.build")
    put(api, "report.build", max_attempts=9)
    assert api.get(f"/api/tasks/{task['id']}").json()["max_attempts"] == 3


def test_params_matching_the_schema_are_accepted(api: TestClient) -> None:
    put(api, "mail.send", params_schema=SCHEMA)
    assert create(api, "mail.send", params={"to": "a@example.com"})["status"] == "pending"


def test_missing_required_param_is_422_naming_it(api: TestClient) -> None:
    put(api, "mail.send", params_schema=SCHEMA)
    response = api.post("/api/tasks", json={"type": "mail.send", "params": {}})
    body = assert_error(response, 422, "validation_error")
    assert "'to' is a required property" in body["message"]
    assert body["details"]["type"] == "mail.send"
    assert api.get("/api/tasks").json()["tasks"] == []


def test_schema_error_names_the_nested_path(api: TestClient) -> None:
    put(api, "mail.send", params_schema=SCHEMA)
    params = {"to": "a@b.c", "address": {"zip": 12345}}
    body = assert_error(
        api.post("/api/tasks", json={"type": "mail.send", "params": params}),
        422,
        "validation_error",
    )
    assert body["details"]["path"] == "params.address.zip"
    assert "params.address.zip" in body["message"]


def test_schema_error_names_the_array_index(api: TestClient) -> None:
    put(api, "mail.send", params_schema=SCHEMA)
    params = {"to": "a@b.c", "items": [{"sku": 1}, {"qty": 2}]}
    body = assert_error(
        api.post("/api/tasks", json={"type": "mail.send", "params": params}),
        422,
        "validation_error",
    )
    assert body["details"]["path"] == "params.items[1]"


def test_schema_applies_only_to_its_type(api: TestClient) -> None:
    put(api, "mail.send", params_schema=SCHEMA)
    assert create(api, "sms.send", params={})["status"] == "pending"


def test_invalid_schema_is_refused_naming_the_path(api: TestClient) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer-ish"}}}
    response = api.put("/api/task-types/bad.schema", json={"params_schema": schema})
    body = assert_error(response, 422, "validation_error")
    assert body["details"]["schema_path"] == "properties/x/type"
    assert_error(api.get("/api/task-types/bad.schema"), 404, "not_found")


def test_schema_with_an_invalid_regex_is_refused(api: TestClient) -> None:
    schema = {"properties": {"x": {"pattern": "("}}}
    response = api.put("/api/task-types/bad.regex", json={"params_schema": schema})
    assert_error(response, 422, "validation_error")


def test_schema_ref_to_a_url_is_never_fetched(api: TestClient) -> None:
    put(api, "remote.ref", params_schema={"$ref": "http://schemas.invalid/x.json"})
    response = api.post("/api/tasks", json={"type": "remote.ref", "params": {}})
    body = assert_error(response, 422, "validation_error")
    assert "remote.ref" in body["message"]


def test_schema_ref_to_nowhere_is_422_not_500(api: TestClient) -> None:
    put(api, "dangling.ref", params_schema={"$ref": "#/$defs/missing"})
    response = api.post("/api/tasks", json={"type": "dangling.ref", "params": {"a": 1}})
    assert_error(response, 422, "validation_error")


def test_local_refs_resolve(api: TestClient) -> None:
    schema = {
        "$defs": {"id": {"type": "integer"}},
        "properties": {"id": {"$ref": "#/$defs/id"}},
    }
    put(api, "with.refs", params_schema=schema)
    assert create(api, "with.refs", params={"id": 3})["params"] == {"id": 3}
    response = api.post("/api/tasks", json={"type": "with.refs", "params": {"id": "3"}})
    assert assert_error(response, 422, "validation_error")["details"]["path"] == "params.id"


def test_bad_task_type_bodies_are_422(api: TestClient) -> None:
    bad = [
        {"max_attempts": 0},
        {"lease_seconds": 0},
        {"lease_seconds": 43201},
        {"priority": "high"},
        {"params_schema": "object"},
        {"colour": "red"},
    ]
    for body in bad:
        assert_error(api.put("/api/task-types/t", json=body), 422, "validation_error")
    raw = '{"params_schema": {"maximum": NaN}}'
    headers = {"content-type": "application/json"}
    response = api.put("/api/task-types/t", content=raw, headers=headers)
    assert_error(response, 422, "validation_error")
    assert api.get("/api/task-types").json()["task_types"] == []


def test_bad_task_type_name_is_422(api: TestClient) -> None:
    assert_error(api.put("/api/task-types/has space", json={}), 422, "validation_error")
    assert_error(api.get("/api/task-types/" + "x" * 201), 422, "validation_error")
