"""The checker finds two unexpired leases on one task, and none when leases follow each other."""

from __future__ import annotations

from tests.multiserver.history import Event, check


def claimed(task_id: str, token: str, at: float, expires: float) -> Event:
    return Event(
        "claim", "w", "ok", (task_id,), token=token, claimed_at=at, lease_expires_at=expires
    )


def beat(task_id: str, token: str, expires: float, outcome: str = "ok") -> Event:
    return Event("heartbeat", "w", outcome, (task_id,), token=token, lease_expires_at=expires)  # type: ignore[arg-type]


def completed(task_id: str, token: str, at: float) -> Event:
    return Event("complete", "w", "ok", (task_id,), token=token, lease_expires_at=at)


def created(task_id: str) -> Event:
    return Event("create", "p", "ok", (task_id,))


def test_a_second_claim_after_the_first_lease_expired_is_no_overlap() -> None:
    events = [created("a"), claimed("a", "t1", 10, 13), claimed("a", "t2", 13, 16)]
    events.append(completed("a", "t2", 14))
    assert check(events).lease_overlaps == []


def test_a_second_claim_while_the_first_lease_holds_is_an_overlap() -> None:
    events = [created("a"), claimed("a", "t1", 10, 13), claimed("a", "t2", 12, 15)]
    report = check(events)
    assert report.lease_overlaps == ["a"]
    assert report.anomalies()["lease_overlaps"] == 1


def test_a_heartbeat_extends_the_lease_that_a_later_claim_overlaps() -> None:
    events = [created("a"), claimed("a", "t1", 10, 13), beat("a", "t1", 16)]
    events.append(claimed("a", "t2", 14, 17))
    assert check(events).lease_overlaps == ["a"]
    refused = [created("a"), claimed("a", "t1", 10, 13), beat("a", "t1", 16, "fail")]
    assert check([*refused, claimed("a", "t2", 14, 17)]).lease_overlaps == []


def test_an_accepted_completion_ends_the_lease() -> None:
    events = [created("a"), claimed("a", "t1", 10, 70), completed("a", "t1", 11)]
    assert check([*events, claimed("a", "t2", 12, 15)]).lease_overlaps == []


def test_a_lease_that_outlives_the_next_one_is_still_found() -> None:
    events = [claimed("a", "t1", 10, 100), claimed("a", "t2", 100, 103)]
    events += [claimed("a", "t0", 5, 101)]
    assert check(events).lease_overlaps == ["a"]
