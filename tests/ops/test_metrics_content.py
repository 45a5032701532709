"""What /metrics says, in process: families, HTTP metrics by route template, openness."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def test_metrics_lists_every_family_and_labels_routes_by_template(api: TestClient) -> None:
    created = api.post("/api/tasks", json={"type": "m.x"}).json()
    api.get(f"/api/tasks/{created['id']}")
    answer = api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(answer.text)}
    assert {
        "taskmanager_tasks",
        "taskmanager_tasks_created",
        "taskmanager_tasks_completed",
        "taskmanager_tasks_failed",
        "taskmanager_oldest_pending_age_seconds",
        "taskmanager_task_processing_seconds",
        "taskmanager_claim_duration_seconds",
        "taskmanager_http_requests",
        "taskmanager_http_request_duration_seconds",
    } <= families
    assert 'route="/api/tasks/{task_id}"' in answer.text
    assert created["id"] not in answer.text
