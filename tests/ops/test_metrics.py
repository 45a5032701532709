"""GET /metrics: database-wide numbers agree across API processes; counters move."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import start_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def database_wide(samples: Samples) -> Samples:
    names = (
        "taskmanager_tasks",
        "taskmanager_tasks_created_total",
        "taskmanager_tasks_completed_total",
        "taskmanager_tasks_failed_total",
    )
    return {key: value for key, value in samples.items() if key[0] in names}


def test_two_processes_report_the_same_depth_and_counters(tmp_path: Path, db_url: str) -> None:
    first = start_server(tmp_path, db_url)
    second = start_server(tmp_path, db_url)
    try:
        with httpx.Client(base_url=first.api_url, timeout=10) as client:
            for _ in range(3):
                client.post("/tasks", json={"type": "m.a"}).raise_for_status()
            client.post("/tasks", json={"type": "m.b"}).raise_for_status()
        one, two = database_wide(scrape(first.url)), database_wide(scrape(second.url))
        assert one == two
        assert one[("taskmanager_tasks", (("status", "pending"), ("type", "m.a")))] == 3
        assert one[("taskmanager_tasks_created_total", (("type", "m.a"),))] == 3
        completed = ("taskmanager_tasks_completed_total", (("type", "m.a"),))
        assert one[completed] == 0
        with httpx.Client(base_url=second.api_url, timeout=10) as client:
            task = client.post("/tasks/claim", json={"worker_id": "w", "task_types": ["m.a"]})
            claimed = task.json()
            client.post(
                f"/tasks/{claimed['id']}/complete", json={"lease_token": claimed["lease_token"]}
            ).raise_for_status()
        after_one, after_two = scrape(first.url), scrape(second.url)
        assert database_wide(after_one) == database_wide(after_two)
        assert after_one[completed] == 1
        assert after_one[("taskmanager_tasks", (("status", "pending"), ("type", "m.a")))] == 2
        # Per-process: the completing process observed the claim and the processing time.
        assert after_two[("taskmanager_claim_duration_seconds_count", ())] >= 1
        processed = ("taskmanager_task_processing_seconds_count", (("type", "m.a"),))
        assert after_two[processed] == 1
        assert processed not in after_one
    finally:
        first.stop()
        second.stop()
