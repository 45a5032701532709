"""`taskmanager keys …`: API keys, managed on the database directly (they guard the API)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from taskmanager.cli.output import fail_with, print_json, print_table
from taskmanager.errors import TaskManagerError
from taskmanager.roles import Role

if TYPE_CHECKING:  # the store loads SQLAlchemy and the drivers: only for a keys command
    from taskmanager.storage import Store

database_option = click.option(
    "--database-url",
    envvar="TASKMANAGER_DATABASE_URL",
    default="sqlite:///./taskmanager.db",
    show_default=True,
    help="The server's database (env TASKMANAGER_DATABASE_URL).",
)


def _store(database_url: str) -> Store:
    from taskmanager.storage import open_store

    try:
        store = open_store(database_url)
        store.migrate()
    except TaskManagerError as exc:
        fail_with(exc)
    return store


@click.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", required=True, help="Who or what uses the key, e.g. ci-worker.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
@database_option
def create(role: str, name: str, as_json: bool, database_url: str) -> None:
    """Create a key. The secret is printed once, now: store it safely."""
    store = _store(database_url)
    try:
        secret, info = store.create_api_key(name, Role(role))
    except TaskManagerError as exc:
        fail_with(exc)
    finally:
        store.close()
    if as_json:
        print_json({"key": secret, **info.model_dump(mode="json")})
        return
    click.echo(secret)
    click.echo(
        f"created {info.role.value} key {info.name!r} (id {info.id}); "
        "it is shown only this once, only its hash is kept",
        err=True,
    )


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@database_option
def list_(as_json: bool, database_url: str) -> None:
    """List keys (never their secrets), revoked ones included."""
    store = _store(database_url)
    try:
        found = store.list_api_keys()
    except TaskManagerError as exc:
        fail_with(exc)
    finally:
        store.close()
    if as_json:
        print_json([info.model_dump(mode="json") for info in found])
        return
    columns = ["id", "name", "role", "prefix", "created_at", "revoked_at"]
    rows = ([str(info.model_dump(mode="json")[c] or "") for c in columns] for info in found)
    print_table(f"{len(found)} keys", columns, rows)


@keys.command("revoke")
@click.argument("id_or_name")
@database_option
def revoke(id_or_name: str, database_url: str) -> None:
    """Revoke the key with this id, or every active key with this name."""
    store = _store(database_url)
    try:
        revoked = store.revoke_api_key(id_or_name)
    except TaskManagerError as exc:
        fail_with(exc)
    finally:
        store.close()
    for info in revoked:
        click.echo(f"revoked {info.role.value} key {info.name!r} (id {info.id})")
