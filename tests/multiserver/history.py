"""A history of what clients saw, and a checker that counts what went wrong.

Every client call is recorded with its outcome: `ok` (a 2xx), `fail` (an answer that says the
call changed nothing) or `unknown` (a timeout, a dropped connection, a 503: it may or may not
have happened). Every handler start and end is recorded too. `check` reads the history, and the
final state of the tasks read back through the API, in one pass each.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from taskmanager.errors import TaskManagerError, Unavailable

T = TypeVar("T")
Outcome = Literal["ok", "fail", "unknown"]
FINISHED = ("completed", "failed")


@dataclass(frozen=True)
class Event:
    """One client call or handler step, as the caller saw it."""

    op: str  # create, claim, complete, fail, handler_start, handler_end, ...
    actor: str
    outcome: Outcome
    task_ids: tuple[str, ...] = ()
    key: str | None = None  # idempotency key of a create
    token: str | None = None  # lease token of a claim, completion or execution
    started_at: float = 0.0
    ended_at: float = 0.0
    lease_until: float | None = None  # handler_start: when the lease ends (monotonic)
    error: str | None = None
    # Leases on the API's clock (epoch seconds): a claim's claimed_at, the expiry a claim or
    # heartbeat granted, or the instant an accepted completion or failure ended the lease.
    claimed_at: float | None = None
    lease_expires_at: float | None = None


@dataclass(frozen=True)
class FinalTask:
    """A task as the API reports it once the run is over."""

    status: str
    idempotency_key: str | None = None


@dataclass
class Report:
    """What the checker counted; every field but `executions` must be 0 in a clean run."""

    lost: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    completed_twice: list[str] = field(default_factory=list)
    completion_lost: list[str] = field(default_factory=list)
    claimed_twice: list[str] = field(default_factory=list)
    created_twice: list[str] = field(default_factory=list)  # idempotency keys
    duplicate_executions: list[str] = field(default_factory=list)
    unexplained_duplicates: list[str] = field(default_factory=list)
    lease_overlaps: list[str] = field(default_factory=list)
    executions: int = 0

    def anomalies(self) -> dict[str, int]:
        """The count of each kind of anomaly found (kinds with none are left out)."""
        counts = {
            name: len(value)
            for name, value in vars(self).items()
            if isinstance(value, list) and value
        }
        return counts

    def __str__(self) -> str:
        found = ", ".join(f"{name}={count}" for name, count in self.anomalies().items())
        return f"{self.executions} executions; anomalies: {found or 'none'}"


def classify(exc: BaseException) -> Outcome:
    """`unknown` when the call may have taken effect (timeout, lost connection, 503)."""
    if isinstance(exc, Unavailable):
        return "unknown"
    if isinstance(exc, TaskManagerError):
        status = type(exc).status
        return "unknown" if status >= 500 else "fail"
    return "unknown"


class History:
    """A thread-safe, append-only list of events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def call(
        self,
        op: str,
        actor: str,
        send: Callable[[], T],
        ids: Callable[[T], Iterable[str]] = lambda _: (),
        *,
        task_ids: tuple[str, ...] = (),
        key: str | None = None,
        token: str | None = None,
    ) -> T:
        """Send one client call, record it with its outcome, and return its answer or raise."""
        started = time.monotonic()
        try:
            answer = send()
        except Exception as exc:
            event = Event(op, actor, classify(exc), task_ids, key, token, started)
            self.add(_ended(event, error=f"{type(exc).__name__}: {exc}"))
            raise
        found = tuple(ids(answer)) or task_ids
        self.add(_ended(Event(op, actor, "ok", found, key, token, started)))
        return answer

    @contextmanager
    def execution(
        self,
        actor: str,
        task_id: str,
        token: str,
        lease_seconds: float,
        claim: dict[str, Any] | None = None,
    ) -> Iterator[None]:
        """Record a handler run: its start (with the lease's end) and, if it gets there, its end.

        With the claim's answer, the start also carries the lease on the API's clock: its
        `claimed_at` and the `lease_expires_at` the claim granted.
        """
        now = time.monotonic()
        until = now + lease_seconds
        start = Event("handler_start", actor, "ok", (task_id,), token=token, lease_until=until)
        if claim is not None:
            start = Event(
                **{
                    **vars(start),
                    "claimed_at": epoch(claim["claimed_at"]),
                    "lease_expires_at": epoch(claim["lease_expires_at"]),
                }
            )
        self.add(_at(start, now))
        yield
        self.add(_at(Event("handler_end", actor, "ok", (task_id,), token=token), time.monotonic()))

    def ok(self, op: str) -> list[Event]:
        """The calls of this kind that succeeded."""
        with self._lock:
            return [e for e in self.events if e.op == op and e.outcome == "ok"]

    def count(self, op: str, outcome: Outcome) -> int:
        with self._lock:
            return sum(1 for e in self.events if e.op == op and e.outcome == outcome)


def epoch(instant: str) -> float:
    """An API instant (ISO 8601 with offset) as epoch seconds."""
    return datetime.fromisoformat(instant).timestamp()


def _at(event: Event, instant: float) -> Event:
    return Event(**{**vars(event), "started_at": instant, "ended_at": instant})


def _ended(event: Event, *, error: str | None = None) -> Event:
    return Event(**{**vars(event), "ended_at": time.monotonic(), "error": error})


def check(events: Iterable[Event], final: dict[str, FinalTask] | None = None) -> Report:
    """Count lost, unexpected, twice-completed and twice-executed tasks, in linear time.

    `final` is every task the API knows at the end; without it, only the history is used.
    """
    final = final or {}
    created: set[str] = set()
    keys_tried: set[str] = set()
    completions: defaultdict[str, set[str | None]] = defaultdict(set)
    claims: Counter[str] = Counter()
    runs: defaultdict[str, list[Event]] = defaultdict(list)
    ends: set[tuple[str, str | None]] = set()
    events_seen: list[Event] = []
    for event in events:
        events_seen.append(event)
        _take(event, created, keys_tried, completions, claims, runs, ends)
    report = Report(executions=sum(len(starts) for starts in runs.values()))
    done = {tid for tid, task in final.items() if task.status in FINISHED}
    done |= set(completions)
    report.lost = sorted(tid for tid in created if tid not in done)
    tried = {tid for tid, task in final.items() if task.idempotency_key in keys_tried}
    completed = set(completions) | {t for t, task in final.items() if task.status == "completed"}
    report.unexpected = sorted(completed - created - tried)
    report.completed_twice = sorted(t for t, tokens in completions.items() if len(tokens) > 1)
    if final:
        report.completion_lost = sorted(
            t for t in completions if final.get(t, FinalTask("missing")).status != "completed"
        )
    report.claimed_twice = sorted(t for t, n in claims.items() if n > 1)
    per_key = Counter(task.idempotency_key for task in final.values() if task.idempotency_key)
    report.created_twice = sorted(key for key, n in per_key.items() if n > 1)
    report.duplicate_executions, report.unexplained_duplicates = _duplicates(runs, ends)
    report.lease_overlaps = lease_overlaps(events_seen)
    return report


def _take(
    event: Event,
    created: set[str],
    keys_tried: set[str],
    completions: defaultdict[str, set[str | None]],
    claims: Counter[str],
    runs: defaultdict[str, list[Event]],
    ends: set[tuple[str, str | None]],
) -> None:
    """Fold one event into the checker's tallies."""
    if event.op == "create":
        if event.key is not None:
            keys_tried.add(event.key)
        if event.outcome == "ok":
            created.update(event.task_ids)
    elif event.outcome != "ok":
        return
    elif event.op == "complete":
        for task_id in event.task_ids:
            # The same holder completing again with the same token is a replay, not a second one.
            completions[task_id].add(event.token)
    elif event.op == "claim":
        claims.update(event.task_ids)
    elif event.op == "handler_start":
        runs[event.task_ids[0]].append(event)
    elif event.op == "handler_end":
        ends.add((event.task_ids[0], event.token))


def _duplicates(
    runs: dict[str, list[Event]], ends: set[tuple[str, str | None]]
) -> tuple[list[str], list[str]]:
    """Tasks run more than once, and those of them that no expired lease or death explains.

    A second run is explained when the run before it never ended (its worker died) or started
    after that run's lease had expired. Where both runs carry their leases on the API's clock,
    "expired" is read there: the second claim was granted at or after the instant the first
    lease ran out. Otherwise the recorder's clock decides, with the lease counted from the
    handler's start (later than the API's, so a re-claim at the API's expiry can look early).
    """
    duplicated, unexplained = [], []
    for task_id, starts in runs.items():
        if len(starts) < 2:
            continue
        duplicated.append(task_id)
        ordered = sorted(starts, key=lambda e: e.started_at)
        for before, after in itertools.pairwise(ordered):
            died = (task_id, before.token) not in ends
            if not (died or _expired_before(before, after)):
                unexplained.append(task_id)
                break
    return sorted(duplicated), sorted(unexplained)


def _expired_before(before: Event, after: Event) -> bool:
    """Whether the lease of the run `before` had expired when the run `after` was claimed."""
    if before.lease_expires_at is not None and after.claimed_at is not None:
        return after.claimed_at >= before.lease_expires_at
    return before.lease_until is not None and after.started_at >= before.lease_until


def lease_overlaps(events: Iterable[Event]) -> list[str]:
    """Tasks that had two unexpired leases at one instant, by the API's clock.

    A lease starts at its claim's `claimed_at` (carried by the claim or its handler's start) and
    ends at the latest expiry its claim or heartbeats were granted, or earlier, when a completion
    or failure with its token was accepted. Only events that carry API instants take part.
    """
    starts: dict[tuple[str, str], float] = {}
    ends: dict[tuple[str, str], float] = {}
    finished: dict[tuple[str, str], float] = {}
    for event in events:
        if event.outcome != "ok" or event.token is None or event.lease_expires_at is None:
            continue
        for task_id in event.task_ids:
            lease = (task_id, event.token)
            if event.op in ("complete", "fail"):
                finished[lease] = min(finished.get(lease, math.inf), event.lease_expires_at)
                continue
            if event.op in ("claim", "handler_start") and event.claimed_at is not None:
                starts[lease] = event.claimed_at
            ends[lease] = max(ends.get(lease, -math.inf), event.lease_expires_at)
    per_task: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for lease, start in starts.items():
        end = min(ends[lease], finished.get(lease, math.inf))
        per_task[lease[0]].append((start, end))
    overlapping = []
    for task_id, leases in per_task.items():
        held_until = -math.inf
        for start, end in sorted(leases):
            if start < held_until:
                overlapping.append(task_id)
                break
            held_until = max(held_until, end)
    return sorted(overlapping)


def final_states(tasks: Iterable[dict[str, Any]]) -> dict[str, FinalTask]:
    """The API's tasks as the checker's final state."""
    return {t["id"]: FinalTask(t["status"], t.get("idempotency_key")) for t in tasks}
