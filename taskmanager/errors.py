"""One error tree, shared by the server and the client.

Each class carries the wire `code` and HTTP `status`; the server renders any of them as
`{"error": code, "message": ..., "details": {...}}` and the client maps the code back to
the same class, so `except LeaseLost` works in-process and over HTTP alike.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TaskManagerError(Exception):
    """Root of every error TaskManager raises on purpose."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the API answers with."""
        return {"error": self.code, "message": self.message, "details": self.details}


class ValidationFailed(TaskManagerError):
    code = "validation_error"
    status = 422


class TaskNotFound(TaskManagerError):
    code = "not_found"
    status = 404


class NotFound(TaskNotFound):
    """Any other resource (worker, task type, route) that does not exist."""


class LeaseLost(TaskManagerError):
    code = "lease_lost"
    status = 409


class TaskCancelled(TaskManagerError):
    code = "task_cancelled"
    status = 409


class Conflict(TaskManagerError):
    code = "conflict"
    status = 409


class InvalidState(TaskManagerError):
    code = "invalid_state"
    status = 409


class Unauthorized(TaskManagerError):
    code = "unauthorized"
    status = 401


class Forbidden(TaskManagerError):
    code = "forbidden"
    status = 403


class MethodNotAllowed(TaskManagerError):
    code = "method_not_allowed"
    status = 405


class PayloadTooLarge(TaskManagerError):
    code = "payload_too_large"
    status = 413


class RateLimited(TaskManagerError):
    code = "rate_limited"
    status = 429


class Unavailable(TaskManagerError):
    code = "unavailable"
    status = 503


_BY_CODE: dict[str, type[TaskManagerError]] = {
    cls.code: cls
    for cls in (
        ValidationFailed,
        TaskNotFound,
        LeaseLost,
        TaskCancelled,
        Conflict,
        InvalidState,
        Unauthorized,
        Forbidden,
        MethodNotAllowed,
        PayloadTooLarge,
        RateLimited,
        Unavailable,
    )
}


def error_for_code(code: str) -> type[TaskManagerError]:
    """The error class for a wire code; the root class for codes this version does not know."""
    return _BY_CODE.get(code, TaskManagerError)
