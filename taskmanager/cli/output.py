"""How the CLI talks to people: tables, JSON, and errors without tracebacks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from taskmanager.errors import TaskManagerError, Unavailable

console = Console()


def fail_with(error: TaskManagerError) -> NoReturn:
    """Print an error as one readable line and exit 1."""
    hint = ""
    if isinstance(error, Unavailable):
        hint = "\nIs the server running? Start it with `taskmanager serve` or set --api-url."
    click.echo(f"error: {error.message} ({error.code}){hint}", err=True)
    sys.exit(1)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def print_table(title: str | None, columns: list[str], rows: Iterable[Iterable[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(table)


def print_task(task: Mapping[str, Any]) -> None:
    """One task as a two-column table, JSON fields pretty-printed."""
    table = Table(show_header=False, title=f"task {task['id']}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in task.items():
        shown = json.dumps(value, indent=2) if isinstance(value, dict | list) else value
        table.add_row(key, "" if shown is None else str(shown))
    console.print(table)
