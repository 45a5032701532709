"""Task types: per-type defaults and the JSON Schema that new tasks' params must meet."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable
from sqlalchemy import Connection, Row, bindparam, insert, select, update

from taskmanager.errors import NotFound, ValidationFailed
from taskmanager.models import TaskTypeInfo, TaskTypeUpdate
from taskmanager.storage import bulk
from taskmanager.storage.rows import dump_json, from_db_time, load_json
from taskmanager.storage.schema import task_types


@lru_cache(maxsize=256)
def compiled_validator(schema_text: str) -> Validator:
    """A validator for a stored schema, built once per distinct schema."""
    schema = json.loads(schema_text)
    cls = validator_for(schema, default=Draft202012Validator)
    # An empty registry: a `$ref` never makes the server fetch a URL.
    return cls(schema, registry=Registry())


def check_schema(schema: dict[str, Any]) -> None:
    """Refuse a params_schema that is not a valid JSON Schema."""
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path)
        raise ValidationFailed(
            f"params_schema is not a valid JSON Schema: {exc.message}",
            {"schema_path": path},
        ) from None


def validate_params(row: Row[Any] | None, params: dict[str, Any], where: str) -> None:
    """Check params against the task type's schema, naming the failing path."""
    if row is None or row.params_schema is None:
        return
    try:
        error = next(iter(compiled_validator(row.params_schema).iter_errors(params)), None)
    except Unresolvable as exc:
        raise ValidationFailed(
            f"the params_schema of task type {row.type!r} has a $ref that cannot be resolved",
            {"type": row.type, "ref": str(exc)[:200]},
        ) from None
    if error is None:
        return
    path = "params" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.path)
    raise ValidationFailed(
        f"{where}{path}: {error.message}",
        {"path": path, "type": row.type, "validator": str(error.validator)},
    )


# Built once: every create runs one, and building the IN clause cost more than running it.
_TYPES_NAMED = select(task_types).where(task_types.c.type.in_(bindparam("names", expanding=True)))
# Most creates name one type: without an IN list, the statement is compiled once for good.
_TYPE_NAMED = select(task_types).where(task_types.c.type == bindparam("name"))


def load_types(conn: Connection, names: Iterable[str]) -> dict[str, Row[Any]]:
    """The task type rows for these names (absent names have none)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    if len(wanted) == 1:
        rows = bulk.select(conn, _TYPE_NAMED, {"name": wanted[0]})
    else:
        rows = list(conn.execute(_TYPES_NAMED, {"names": wanted}))
    return {row.type: row for row in rows}


def _info(row: Row[Any]) -> TaskTypeInfo:
    return TaskTypeInfo.model_construct(
        type=row.type,
        params_schema=load_json(row.params_schema),
        max_attempts=row.max_attempts,
        lease_seconds=row.lease_seconds,
        priority=row.priority,
        description=row.description,
        created_at=from_db_time(row.created_at),
        updated_at=from_db_time(row.updated_at),
    )


def put_task_type(conn: Connection, now: datetime, name: str, body: TaskTypeUpdate) -> TaskTypeInfo:
    """Create the type or replace its settings."""
    if body.params_schema is not None:
        check_schema(body.params_schema)
    values = {
        "params_schema": dump_json(body.params_schema),
        "max_attempts": body.max_attempts,
        "lease_seconds": body.lease_seconds,
        "priority": body.priority,
        "description": body.description,
        "updated_at": now,
    }
    exists = conn.execute(select(task_types.c.type).where(task_types.c.type == name)).first()
    if exists:
        conn.execute(update(task_types).where(task_types.c.type == name).values(**values))
    else:
        conn.execute(insert(task_types).values(type=name, created_at=now, **values))
    return get_task_type(conn, name)


def get_task_type(conn: Connection, name: str) -> TaskTypeInfo:
    row = conn.execute(select(task_types).where(task_types.c.type == name)).first()
    if row is None:
        raise NotFound(f"no task type {name!r}", {"type": name})
    return _info(row)


def list_task_types(conn: Connection) -> list[TaskTypeInfo]:
    return [_info(row) for row in conn.execute(select(task_types).order_by(task_types.c.type))]
