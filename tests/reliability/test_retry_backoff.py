"""Scenario 8: a handler that always fails runs exactly max_attempts times, with backoff."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from taskmanager.client import Client
from tests.reliability.conftest import StartServer

BASE_SECONDS = 0.2
JITTER = 0.2
MAX_ATTEMPTS = 5
GOOD_TASKS = 10
# A long poll wakes when the backoff ends; allow for its latency, upward only.
POLL_SLACK_SECONDS = 0.25


@dataclass
class Attempt:
    claimed_at: datetime
    fail_sent_at: datetime | None = None
    fail_answered_at: datetime | None = None
    answer: dict[str, Any] = field(default_factory=dict)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _work(client: Client, bad_id: str, good_ids: set[str]) -> tuple[list[Attempt], list[str]]:
    """Claim with long polls; fail the bad task every time, complete the good ones."""
    attempts: list[Attempt] = []
    completed: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = client.claim("worker", wait_seconds=5)
        if task is None:
            break
        if task["id"] != bad_id:
            client.complete(task["id"], {"ok": True}, lease_token=task["lease_token"])
            completed.append(task["id"])
            continue
        attempt = Attempt(_instant(task["claimed_at"]), datetime.now(UTC))
        attempt.answer = client.fail(
            bad_id, f"boom {task['attempts']}", retry=True, lease_token=task["lease_token"]
        )
        attempt.fail_answered_at = datetime.now(UTC)
        attempts.append(attempt)
        if attempt.answer["status"] == "failed" and set(completed) == good_ids:
            # One more, short, poll: nothing must come back.
            assert client.claim("worker", wait_seconds=1) is None
            break
    return attempts, completed


@pytest.mark.slow
@pytest.mark.serial  # each re-claim is judged against its backoff window plus 0.25 s
def test_failing_task_runs_max_attempts_with_backoff(server_with: StartServer) -> None:
    server = server_with(TASKMANAGER_RETRY_BASE_SECONDS=str(BASE_SECONDS))
    with Client(server.api_url) as client:
        bad = client.create_task("job.bad", max_attempts=MAX_ATTEMPTS)
        good = client.create_tasks(
            [{"type": "job.good", "params": {"n": n}} for n in range(GOOD_TASKS)]
        )
        good_ids = {task["id"] for task in good}
        attempts, completed = _work(client, bad["id"], good_ids)
        final = client.get_task(bad["id"])

    assert len(attempts) == MAX_ATTEMPTS
    assert [a.answer["status"] for a in attempts] == ["pending"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert final["status"] == "failed"
    assert final["attempts"] == MAX_ATTEMPTS
    assert final["error"] == f"boom {MAX_ATTEMPTS}"

    for n, (before, after) in enumerate(itertools.pairwise(attempts), start=1):
        window = BASE_SECONDS * 2 ** (n - 1)
        assert before.fail_sent_at is not None and before.fail_answered_at is not None
        # The server decided the delay between sending and answering the fail call.
        earliest = (after.claimed_at - before.fail_sent_at).total_seconds()
        latest = (after.claimed_at - before.fail_answered_at).total_seconds()
        print(f"attempt {n}->{n + 1}: window {window:.2f}s, gap {earliest:.3f}-{latest:.3f}s")
        assert earliest >= window * (1 - JITTER), (n, earliest)
        assert latest <= window * (1 + JITTER) + POLL_SLACK_SECONDS, (n, latest)
        run_at = _instant(before.answer["run_at"])
        assert after.claimed_at >= run_at

    # The good tasks ran while the bad one waited out its backoffs, each on its first attempt.
    assert sorted(completed) == sorted(good_ids)
    last_attempt = attempts[-1].claimed_at
    with Client(server.api_url) as client:
        for task_id in good_ids:
            task = client.get_task(task_id)
            assert task["status"] == "completed"
            assert task["attempts"] == 1
            assert _instant(task["completed_at"]) < last_attempt
