"""Pydantic wire models shared by the server and the SDK."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from taskmanager.roles import Role
from taskmanager.status import TaskStatus

TYPE_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"
MAX_JSON_DEPTH = 32
MAX_JSON_INT = 2**63 - 1
MIN_JSON_INT = -(2**63)
MAX_LEASE_SECONDS = 12 * 3600
MAX_DELAY_SECONDS = 366 * 24 * 3600


def _utc(value: datetime) -> datetime:
    """Naive instants are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("instant out of range once converted to UTC") from None


def _iso_z(value: datetime) -> str:
    if value.tzinfo is not UTC:  # stored instants are UTC already
        value = _utc(value)
    return value.isoformat().replace("+00:00", "Z")


def _check_json(value: Any, depth: int = 0) -> None:
    """Refuse what JSON cannot carry faithfully between languages, in one walk."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int) and not MIN_JSON_INT <= value <= MAX_JSON_INT:
        raise ValueError("integers must fit in 64 bits; send larger numbers as strings")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not valid JSON numbers")


def _plain_json(value: dict[str, Any]) -> dict[str, Any]:
    """Params, results and schemas: plain JSON, nested at most 32 deep, 64-bit integers."""
    _check_json(value)
    return value


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text, so no backend takes it: one answer everywhere."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


UTCDateTime = Annotated[
    datetime, AfterValidator(_utc), PlainSerializer(_iso_z, return_type=str, when_used="json")
]
# A task's instants: UTC by construction (validated as UTCDateTime is, or read from the
# database as aware UTC), so pydantic-core writes them itself, in the same form `_iso_z`
# gives (`2026-01-02T03:04:05.123456Z`), without a Python call per instant of every answer.
TaskInstant = Annotated[datetime, AfterValidator(_utc)]
# Every string a request carries is Text; strings inside JSON objects are kept as sent.
Text = Annotated[str, AfterValidator(_no_nul)]
TaskId = Text
TaskType = Annotated[str, StringConstraints(pattern=TYPE_PATTERN)]
WorkerId = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
Token = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_plain_json)]
LeaseSeconds = Annotated[float, Field(ge=1, le=MAX_LEASE_SECONDS), AfterValidator(_finite)]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
MaxAttempts = Annotated[int, Field(ge=1, le=1000)]


class Request(BaseModel):
    """Requests refuse unknown fields: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid")


class TaskCreate(Request):
    type: TaskType
    params: JsonObject = Field(default_factory=dict)
    priority: Priority | None = None
    run_at: UTCDateTime | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=MAX_DELAY_SECONDS)] | None = None
    max_attempts: MaxAttempts | None = None
    idempotency_key: Token | None = None

    @model_validator(mode="after")
    def _one_schedule(self) -> TaskCreate:
        if self.run_at is not None and self.delay_seconds is not None:
            raise ValueError("give run_at or delay_seconds, not both")
        return self


class TaskBatchCreate(Request):
    tasks: Annotated[list[TaskCreate], Field(min_length=1, max_length=1000)]


class Task(BaseModel):
    id: str
    type: str
    status: TaskStatus
    params: dict[str, Any]
    priority: int
    created_at: TaskInstant
    run_at: TaskInstant
    claimed_at: TaskInstant | None
    completed_at: TaskInstant | None
    worker_id: str | None
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    max_attempts: int
    lease_expires_at: TaskInstant | None
    progress: float | None
    progress_message: str | None
    idempotency_key: str | None


class ClaimedTask(Task):
    lease_token: str


class TaskList(BaseModel):
    tasks: list[Task]
    next_cursor: str | None


class TaskBatch(BaseModel):
    tasks: list[Task]


class ClaimedBatch(BaseModel):
    tasks: list[ClaimedTask]


class ClaimRequest(Request):
    worker_id: WorkerId
    task_types: Annotated[list[TaskType], Field(min_length=1, max_length=100)] | None = None
    lease_seconds: LeaseSeconds | None = None
    wait_seconds: Annotated[float, Field(ge=0, le=30)] = 0.0


class ClaimBatchRequest(ClaimRequest):
    limit: Annotated[int, Field(ge=1, le=100)] = 10


class HeartbeatRequest(Request):
    worker_id: WorkerId
    lease_token: Token
    lease_seconds: LeaseSeconds | None = None
    progress: Annotated[float, Field(ge=0, le=100)] | None = None
    message: Annotated[Text, StringConstraints(max_length=1000)] | None = None


class CompleteRequest(Request):
    result: JsonObject | None = None
    worker_id: WorkerId | None = None
    lease_token: Token | None = None


class FailRequest(Request):
    error: Annotated[Text, StringConstraints(max_length=65536)]
    retry: bool = True
    retry_delay_seconds: Annotated[float, Field(ge=0, le=MAX_DELAY_SECONDS)] | None = None
    worker_id: WorkerId | None = None
    lease_token: Token | None = None


class CompleteItem(Request):
    id: TaskId
    lease_token: Token
    result: JsonObject | None = None


class CompleteBatchRequest(Request):
    worker_id: WorkerId
    tasks: Annotated[list[CompleteItem], Field(min_length=1, max_length=1000)]
    # False: each outcome says how it went without the task itself (a worker needs no more).
    include_tasks: bool = True

    @model_validator(mode="after")
    def _each_task_once(self) -> CompleteBatchRequest:
        ids = [item.id for item in self.tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("each task may appear only once in a batch")
        return self


class ErrorBody(BaseModel):
    error: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class CompleteOutcome(BaseModel):
    """One item of a batch completion: `outcome` is `completed` or the error code."""

    id: str
    outcome: str
    task: Task | None = None
    error: ErrorBody | None = None


class CompleteBatchResult(BaseModel):
    tasks: list[CompleteOutcome]


class WorkerSummary(BaseModel):
    worker_id: str
    first_seen_at: UTCDateTime
    last_seen_at: UTCDateTime
    tasks_processing: int
    tasks_completed: int
    tasks_failed: int


class WorkerList(BaseModel):
    workers: list[WorkerSummary]


class WorkerStats(WorkerSummary):
    avg_processing_seconds: float | None
    current_task_ids: list[str]


class QueueCount(BaseModel):
    type: str
    status: TaskStatus
    count: int


class QueueStats(BaseModel):
    depth: list[QueueCount]
    totals: dict[str, int]
    completed_last_minute: int
    failed_last_minute: int
    oldest_pending_age_seconds: float | None
    processing_seconds_p50: float | None
    processing_seconds_p95: float | None
    generated_at: UTCDateTime


class TaskTypeUpdate(Request):
    params_schema: JsonObject | None = None
    max_attempts: MaxAttempts | None = None
    lease_seconds: LeaseSeconds | None = None
    priority: Priority | None = None
    description: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class TaskTypeInfo(BaseModel):
    type: str
    params_schema: dict[str, Any] | None
    max_attempts: int | None
    lease_seconds: float | None
    priority: int | None
    description: str | None
    created_at: UTCDateTime
    updated_at: UTCDateTime


class TaskTypeList(BaseModel):
    task_types: list[TaskTypeInfo]


class Identity(BaseModel):
    """Who a key is: what the dashboard asks to know which buttons to show."""

    name: str
    role: Role


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    version: str


class ApiKeyInfo(BaseModel):
    """An API key as listed: never the secret, only its first characters."""

    id: str
    name: str
    role: Role
    prefix: str
    created_at: UTCDateTime
    revoked_at: UTCDateTime | None


class TaskEvent(BaseModel):
    """One change of a task: created, claimed, completed, retrying, failed, cancelled, retried."""

    event: str
    at: UTCDateTime
    attempt: int
    worker_id: str | None
    message: str | None


class TaskHistory(BaseModel):
    task_id: str
    events: list[TaskEvent]


class TypeOverview(BaseModel):
    """One task type's depth by status and how it fared over the window."""

    type: str
    counts: dict[str, int]
    completed_in_window: int
    failed_in_window: int
    error_rate: float | None
    oldest_pending_age_seconds: float | None


class QueueOverview(BaseModel):
    window_seconds: int
    types: list[TypeOverview]
    generated_at: UTCDateTime


class HistoryPoint(BaseModel):
    """One minute: tasks completed and failed in it, unfinished tasks at its end."""

    at: UTCDateTime
    completed: int
    failed: int
    depth: int


class QueueHistory(BaseModel):
    minutes: int
    points: list[HistoryPoint]
    generated_at: UTCDateTime
