"""The checker finds each anomaly in a hand-made history, and none in a clean one."""

from __future__ import annotations

import pytest

from taskmanager.errors import LeaseLost, Unavailable, ValidationFailed
from tests.multiserver.history import Event, FinalTask, History, check, classify


def created(task_id: str, key: str | None = None, outcome: str = "ok") -> Event:
    ids = (task_id,) if outcome == "ok" else ()
    return Event("create", "producer", outcome, ids, key=key)  # type: ignore[arg-type]


def claimed(task_id: str, token: str) -> Event:
    return Event("claim", "w1", "ok", (task_id,), token=token)


def completed(task_id: str, token: str, outcome: str = "ok") -> Event:
    return Event("complete", "w1", outcome, (task_id,), token=token)  # type: ignore[arg-type]


def run(task_id: str, token: str, start: float, lease: float, end: float | None) -> list[Event]:
    until = start + lease
    start_event = Event("handler_start", "w", "ok", (task_id,), token=token, lease_until=until)
    events = [Event(**{**vars(start_event), "started_at": start})]
    if end is not None:
        events.append(Event("handler_end", "w", "ok", (task_id,), token=token, started_at=end))
    return events


def clean_history() -> list[Event]:
    return [
        created("a"),
        claimed("a", "t1"),
        *run("a", "t1", 1.0, 60, 2.0),
        completed("a", "t1"),
        created("b"),
        claimed("b", "t2"),
        *run("b", "t2", 1.0, 60, 2.0),
        completed("b", "t2"),
    ]


def test_a_clean_history_has_no_anomaly() -> None:
    final = {"a": FinalTask("completed"), "b": FinalTask("completed")}
    report = check(clean_history(), final)
    assert report.anomalies() == {}
    assert report.executions == 2


def test_a_created_task_never_finished_is_lost() -> None:
    events = [*clean_history(), created("c"), claimed("c", "t3")]
    final = {"a": FinalTask("completed"), "b": FinalTask("completed")}
    report = check(events, {**final, "c": FinalTask("processing")})
    assert report.lost == ["c"]
    assert report.anomalies() == {"lost": 1}


def test_a_task_finished_by_a_completion_whose_answer_was_lost_is_not_lost() -> None:
    events = [*clean_history(), created("c"), completed("c", "t3", outcome="unknown")]
    assert check(events, {"c": FinalTask("completed")}).lost == []
    assert check(events).lost == ["c"]


def test_a_completed_task_nobody_created_is_unexpected() -> None:
    report = check([*clean_history(), completed("z", "t9")])
    assert report.unexpected == ["z"]
    report = check(clean_history(), {"y": FinalTask("completed")})
    assert report.unexpected == ["y"]


def test_a_task_whose_create_timed_out_is_not_unexpected() -> None:
    events = [created("", key="k1", outcome="unknown")]
    report = check(events, {"x": FinalTask("completed", "k1")})
    assert report.unexpected == []


def test_two_accepted_completions_with_different_leases_are_counted() -> None:
    events = [*clean_history(), completed("a", "t-other")]
    assert check(events).completed_twice == ["a"]


def test_a_replayed_completion_with_the_same_token_is_not_counted_twice() -> None:
    events = [*clean_history(), completed("a", "t1")]
    assert check(events).completed_twice == []


def test_an_accepted_completion_undone_later_is_counted() -> None:
    report = check(clean_history(), {"a": FinalTask("completed"), "b": FinalTask("pending")})
    assert report.completion_lost == ["b"]


def test_a_task_in_two_successful_claims_is_counted() -> None:
    assert check([*clean_history(), claimed("a", "t7")]).claimed_twice == ["a"]


def test_an_idempotency_key_on_two_tasks_is_counted() -> None:
    final = {"a": FinalTask("completed", "k"), "b": FinalTask("completed", "k")}
    assert check(clean_history(), final).created_twice == ["k"]


def test_a_second_run_while_the_first_lease_held_is_an_unexplained_duplicate() -> None:
    events = [*clean_history(), *run("a", "t8", 1.5, 60, 3.0)]
    report = check(events)
    assert report.duplicate_executions == ["a"]
    assert report.unexplained_duplicates == ["a"]
    assert report.executions == 3


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(run("a", "t1", 1.0, 60, None), id="first-worker-died"),
        pytest.param(run("a", "t1", 1.0, 5, 9.0), id="first-lease-expired"),
    ],
)
def test_a_second_run_after_a_death_or_an_expired_lease_is_explained(first: list[Event]) -> None:
    report = check([created("a"), *first, *run("a", "t2", 7.0, 60, 8.0)])
    assert report.duplicate_executions == ["a"]
    assert report.unexplained_duplicates == []


def leased(events: list[Event], claimed_at: float, expires_at: float) -> list[Event]:
    """The run's start carrying its lease on the API's clock."""
    start, *rest = events
    return [
        Event(**{**vars(start), "claimed_at": claimed_at, "lease_expires_at": expires_at}),
        *rest,
    ]


def test_a_reclaim_at_the_apis_expiry_is_explained_though_the_handler_started_later() -> None:
    # The first handler started 0.3 s after its claim was granted; the API re-granted the task
    # the instant the lease ran out, so by the recorder's clock the second run looks early.
    first = leased(run("a", "t1", 1.3, 5, 1.4), claimed_at=101.0, expires_at=106.0)
    second = leased(run("a", "t2", 6.1, 5, 6.2), claimed_at=106.05, expires_at=111.05)
    report = check([created("a"), *first, *second])
    assert report.duplicate_executions == ["a"]
    assert report.unexplained_duplicates == []
    assert report.lease_overlaps == []


def test_a_reclaim_before_the_apis_expiry_is_unexplained_and_overlaps() -> None:
    first = leased(run("a", "t1", 1.0, 5, 1.1), claimed_at=101.0, expires_at=106.0)
    second = leased(run("a", "t2", 9.0, 5, 9.1), claimed_at=105.0, expires_at=110.0)
    report = check([created("a"), *first, *second])
    assert report.unexplained_duplicates == ["a"]
    assert report.lease_overlaps == ["a"]


def test_the_recorder_keeps_the_claims_lease_on_the_apis_clock() -> None:
    history = History()
    claim = {"claimed_at": "2026-01-01T00:00:00+00:00", "lease_expires_at": "2026-01-01T00:00:05Z"}
    with history.execution("w", "a", "t", 5, claim):
        pass
    start = history.events[0]
    assert start.claimed_at == 1767225600.0
    assert start.lease_expires_at == 1767225605.0


def test_the_recorder_records_outcomes_and_reraises() -> None:
    history = History()
    answer = history.call("create", "p", lambda: {"id": "a"}, lambda t: [t["id"]], key="k")
    assert answer == {"id": "a"}

    def refused() -> None:
        raise LeaseLost("stale")

    def timed_out() -> None:
        raise Unavailable("timed out")

    with pytest.raises(LeaseLost):
        history.call("complete", "w", refused, task_ids=("a",), token="t")
    with pytest.raises(Unavailable):
        history.call("complete", "w", timed_out, task_ids=("a",), token="t")
    with history.execution("w", "a", "t", 60):
        pass
    outcomes = [(e.op, e.outcome, e.task_ids) for e in history.events]
    assert outcomes == [
        ("create", "ok", ("a",)),
        ("complete", "fail", ("a",)),
        ("complete", "unknown", ("a",)),
        ("handler_start", "ok", ("a",)),
        ("handler_end", "ok", ("a",)),
    ]
    assert check(history.events).anomalies() == {"lost": 1}


def test_errors_are_classified_by_whether_the_call_may_have_happened() -> None:
    assert classify(Unavailable("503")) == "unknown"
    assert classify(TimeoutError()) == "unknown"
    assert classify(LeaseLost("409")) == "fail"
    assert classify(ValidationFailed("422")) == "fail"


def test_the_checker_reads_a_long_history_in_one_pass() -> None:
    events = []
    for n in range(20_000):
        events += [created(f"t{n}"), completed(f"t{n}", f"k{n}")]
    assert check(events).anomalies() == {}
