"""What /metrics says, in process: families, HTTP metrics by route template, openness."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from taskmanager.server.batch_histogram import BatchHistogram


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


def test_task_histograms_read_as_prometheus_client_s_own() -> None:
    values = [("a", 0.0), ("a", 0.1), ("a", 0.3), ("b", 7.0), ("a", 5000.0), ("b", -1.0)]
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    bounds = (0.1, 0.5, 1, 2.5, 3600)
    BatchHistogram("t_seconds", "Seconds.", bounds, ours).observe(values)
    reference = Histogram("t_seconds", "Seconds.", ["type"], buckets=bounds, registry=theirs)
    for task_type, seconds in values:
        reference.labels(task_type).observe(max(0.0, seconds))

    def samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        return {
            (sample.name, tuple(sorted(sample.labels.items())), sample.value)
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples
            if not sample.name.endswith("_created")
        }

    assert samples(ours) == samples(theirs)
    assert ("t_seconds_bucket", (("le", "0.1"), ("type", "a")), 2.0) in samples(ours)
