"""The `taskmanager` command."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, NoReturn

import click

import taskmanager
from taskmanager.cli.bench import bench
from taskmanager.cli.keys import keys
from taskmanager.cli.output import fail_with
from taskmanager.cli.purge import purge
from taskmanager.cli.tasks import stats, tasks
from taskmanager.cli.worker import worker
from taskmanager.errors import TaskManagerError, Unavailable

if TYPE_CHECKING:
    from taskmanager.server.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="taskmanager", prog_name="taskmanager")
def main() -> None:
    """TaskManager: a central task queue with an HTTP API."""


@main.command()
@click.option("--host", default=None, help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="[default: 8000]")
@click.option(
    "--database-url",
    default=None,
    help="sqlite:///path, mysql://..., postgresql://...  [default: sqlite:///./taskmanager.db]",
)
@click.option(
    "--workers",
    "processes",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes sharing the port (TASKMANAGER_PROCESSES).  [default: 1 on SQLite, "
    "one per CPU, at most 4, on MariaDB/MySQL and PostgreSQL]",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="[default: info]",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="text, or one JSON object per line (server and access logs).  [default: text]",
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    default=None,
    help="Accept requests without a key, while no key exists, on any address.",
)
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
def serve(
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    **overrides: object,
) -> None:
    """Start the API server (migrations are applied first)."""
    import uvicorn

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together")
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"TASKMANAGER_{name.upper()}"] = str(value)
    settings = _settings()
    from taskmanager.server.logs import configure, uvicorn_log_config
    from taskmanager.server.protocol import PROTOCOL

    if settings.log_format == "json":
        configure(settings.log_format, settings.log_level)
    if settings.migrate_on_start:
        _migrate(settings.database_url)
    _check_access(settings)
    scheme = "https" if ssl_certfile else "http"
    processes = settings.server_processes()
    _say(
        f"TaskManager {taskmanager.__version__} on {scheme}://{settings.host}:{settings.port}/api "
        f"(database {_redact(settings.database_url)}, {processes} "
        f"process{'es' if processes > 1 else ''})"
    )
    uvicorn.run(
        "taskmanager.server.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=processes,
        log_level=settings.log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_config=uvicorn_log_config(settings.log_format, settings.log_level),
        http=PROTOCOL,
    )


def _say(message: str) -> None:
    """A start-up line: on stdout, or as a log record when logs are JSON lines."""
    if os.environ.get("TASKMANAGER_LOG_FORMAT", "text") == "json":
        logging.getLogger("taskmanager.server").info(message)
    else:
        click.echo(message)


def _check_access(settings: Settings) -> None:
    """Refuse, before listening, to serve beyond loopback with no key and no explicit consent."""
    from taskmanager.server.auth import access_at_start
    from taskmanager.storage import open_store

    try:
        store = open_store(settings.database_url)
        try:
            store.check_server()  # refuses a server too old, when migrations did not run
            allowed, message = access_at_start(store, settings)
        finally:
            store.close()
    except TaskManagerError as exc:
        _database_failed(settings.database_url, exc)
    if not allowed:
        click.echo(f"error: {message}", err=True)
        sys.exit(2)
    _say(message)


@main.command()
@click.option(
    "--database-url",
    default=None,
    envvar="TASKMANAGER_DATABASE_URL",
    help="[default: sqlite:///./taskmanager.db]",
)
def migrate(database_url: str | None) -> None:
    """Create the schema or upgrade it in place to this version."""
    url = database_url or _settings().database_url
    _migrate(url)
    click.echo(f"database {_redact(url)} is up to date")


def _settings() -> Settings:
    """The server settings from the environment; a clear message and exit 2 when invalid."""
    from pydantic import ValidationError

    from taskmanager.server.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "TASKMANAGER_" + "_".join(str(part) for part in error["loc"]).upper()
            click.echo(f"error: {name}: {error['msg']}", err=True)
        sys.exit(2)


def _migrate(url: str) -> None:
    from taskmanager.storage import open_store

    try:
        store = open_store(url)
        try:
            store.migrate()
        finally:
            store.close()
    except TaskManagerError as exc:
        _database_failed(url, exc)


def _database_failed(url: str, error: TaskManagerError) -> NoReturn:
    """Exit 1 with one line: the database that cannot be reached, or why it was refused."""
    if isinstance(error, Unavailable):
        reason = getattr(error.__cause__, "orig", None) or error.message
        click.echo(f"error: cannot reach the database {_redact(url)}: {reason}", err=True)
        sys.exit(1)
    fail_with(error)


def _redact(url: str) -> str:
    """A database URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is reported by the store itself
        return url


main.add_command(keys)
main.add_command(tasks)
main.add_command(stats)
main.add_command(worker)
main.add_command(purge)
main.add_command(bench)
