"""`taskmanager tasks …` and `taskmanager stats`: a thin layer over the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from taskmanager.cli.output import fail_with, print_json, print_table, print_task
from taskmanager.client import DEFAULT_API_URL, Client
from taskmanager.errors import TaskManagerError
from taskmanager.status import TaskStatus

F = TypeVar("F", bound=Callable[..., Any])


def api_options(command: F) -> F:
    """--api-url and --api-key, from flags or the environment."""
    command = click.option(
        "--api-key",
        envvar="TASKMANAGER_API_KEY",
        default=None,
        help="API key (env TASKMANAGER_API_KEY).",
    )(command)
    command = click.option(
        "--api-url",
        envvar="TASKMANAGER_API_URL",
        default=DEFAULT_API_URL,
        show_default=True,
        help="API base URL (env TASKMANAGER_API_URL).",
    )(command)
    return command


def _call(api_url: str, api_key: str | None, action: Callable[[Client], Any]) -> Any:
    try:
        with Client(api_url, api_key=api_key) as client:
            return action(client)
    except TaskManagerError as exc:
        fail_with(exc)


def _json_object(_ctx: click.Context, _param: click.Parameter, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter('must be a JSON object, e.g. \'{"message": "hi"}\'')
    return parsed


TASK_COLUMNS = ["id", "type", "status", "priority", "attempts", "worker_id", "created_at"]


@click.group()
def tasks() -> None:
    """Create, list, inspect, cancel and retry tasks."""


@tasks.command("create")
@click.argument("task_type")
@click.option("--params", default="{}", callback=_json_object, help="JSON object.")
@click.option("--priority", type=int, default=None, help="Higher runs first.")
@click.option(
    "--delay",
    "delay_seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds before the task may run.",
)
@click.option("--run-at", default=None, help="ISO 8601 instant before which it does not run.")
@click.option("--max-attempts", type=click.IntRange(1, 1000), default=None)
@click.option("--idempotency-key", default=None, help="Creating twice with it makes one task.")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@api_options
def create(
    task_type: str,
    params: dict[str, Any],
    as_json: bool,
    api_url: str,
    api_key: str | None,
    **options: Any,
) -> None:
    """Create a task of TASK_TYPE."""
    task = _call(api_url, api_key, lambda c: c.create_task(task_type, params, **options))
    print_json(task) if as_json else print_task(task)


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]), default=None)
@click.option("--type", "task_type", default=None)
@click.option("--worker-id", default=None)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@api_options
def list_(
    status: str | None,
    task_type: str | None,
    worker_id: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
    api_url: str,
    api_key: str | None,
) -> None:
    """List tasks, newest first."""
    page = _call(
        api_url,
        api_key,
        lambda c: c.list_tasks(
            status=status, type=task_type, worker_id=worker_id, limit=limit, cursor=cursor
        ),
    )
    if as_json:
        print_json(page)
        return
    rows = ([task.get(column) for column in TASK_COLUMNS] for task in page["tasks"])
    print_table(f"{len(page['tasks'])} tasks", TASK_COLUMNS, rows)
    if page["next_cursor"]:
        click.echo(f"more: --cursor {page['next_cursor']}")


def _single(name: str, doc: str, method: Callable[[Client, str], Any]) -> None:
    @tasks.command(name, help=doc)
    @click.argument("task_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
    @api_options
    def command(task_id: str, as_json: bool, api_url: str, api_key: str | None) -> None:
        task = _call(api_url, api_key, lambda c: method(c, task_id))
        print_json(task) if as_json else print_task(task)


_single("get", "Show one task.", Client.get_task)
_single("cancel", "Cancel a pending or processing task.", Client.cancel_task)
_single("retry", "Send a failed or cancelled task back to pending.", Client.retry_task)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@api_options
def stats(as_json: bool, api_url: str, api_key: str | None) -> None:
    """Queue depth, throughput and processing times."""
    numbers = _call(api_url, api_key, lambda c: c.stats())
    if as_json:
        print_json(numbers)
        return
    print_table("tasks by status", list(numbers["totals"]), [list(numbers["totals"].values())])
    print_table(
        "queue by type",
        ["type", "status", "count"],
        ([d["type"], d["status"], d["count"]] for d in numbers["depth"]),
    )
    summary = {
        "completed last minute": numbers["completed_last_minute"],
        "failed last minute": numbers["failed_last_minute"],
        "oldest pending age (s)": _round(numbers["oldest_pending_age_seconds"]),
        "processing p50 (s)": _round(numbers["processing_seconds_p50"]),
        "processing p95 (s)": _round(numbers["processing_seconds_p95"]),
    }
    print_table("throughput", ["measure", "value"], summary.items())


def _round(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
