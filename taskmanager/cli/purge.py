"""`taskmanager purge`: delete old finished tasks straight from the database, in batches."""

from __future__ import annotations

from datetime import timedelta

import click

from taskmanager.cli.output import fail_with
from taskmanager.errors import TaskManagerError


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    from taskmanager.retention import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--older-than",
    required=True,
    callback=_duration,
    help="Finished longer ago than this: 30m, 12h, 7d, 2w.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "failed", "cancelled"]),
    default=("completed",),
    show_default=True,
    help="Which finished tasks; repeat for several. Pending and processing tasks are never purged.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10000),
    default=500,
    show_default=True,
    help="Tasks deleted per transaction; small batches never hold up claims for long.",
)
@click.option(
    "--database-url",
    envvar="TASKMANAGER_DATABASE_URL",
    default="sqlite:///./taskmanager.db",
    show_default=True,
    help="The database (env TASKMANAGER_DATABASE_URL).",
)
def purge(
    older_than: timedelta,
    statuses: tuple[str, ...],
    dry_run: bool,
    batch_size: int,
    database_url: str,
) -> None:
    """Delete finished tasks (and their history) older than --older-than.

    Example: taskmanager purge --older-than 7d --status completed --status cancelled
    """
    from taskmanager.retention import PurgePlan, parse_statuses
    from taskmanager.retention import purge as run_purge
    from taskmanager.storage import open_store

    plan = PurgePlan(parse_statuses(",".join(statuses)), older_than, batch_size)
    names = ", ".join(statuses)
    try:
        store = open_store(database_url)
        try:
            cutoff = plan.cutoff(store.clock.now())
            stamp = cutoff.strftime("%Y-%m-%d %H:%M:%S UTC")
            if dry_run:
                count = store.count_purgeable(plan.statuses, cutoff)
                click.echo(f"would delete {count} tasks ({names}) finished before {stamp}")
                return
            click.echo(f"deleting tasks ({names}) finished before {stamp}, {batch_size} at a time")
            total = run_purge(store, plan, lambda done: click.echo(f"  deleted {done} so far"))
            click.echo(f"deleted {total} tasks")
        finally:
            store.close()
    except TaskManagerError as exc:
        fail_with(exc)
