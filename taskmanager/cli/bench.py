"""`taskmanager bench`: measure enqueue, drain and idle latency against a real server."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the benchmark loads the server and the store: only when it runs
    from taskmanager.bench.run import BenchOptions, Progress

LABELS = {
    "enqueue_single_per_s": ("enqueue, one task per request", "tasks/s"),
    "enqueue_batch_per_s": ("enqueue, batches of 1000", "tasks/s"),
    "drain_per_s": ("drain (workers' start to last completion)", "tasks/s"),
    "steady_drain_per_s": ("steady drain (middle 80 %)", "tasks/s"),
    "idle_latency_median_ms": ("idle latency, median", "ms"),
    "idle_latency_p90_ms": ("idle latency, p90", "ms"),
    "server_cpu_ms_per_task": ("server CPU per task drained", "ms"),
    "worker_cpu_ms_per_task": ("workers' CPU per task drained", "ms"),
    "server_rss_peak_mb": ("server RSS, peak while draining", "MB"),
    "server_rss_idle_mb": ("server RSS, idle", "MB"),
    "server_rss_idle_polls_mb": ("server RSS with the idle long polls", "MB"),
    "stats_ms": ("GET /stats, median", "ms"),
    "list_newest_ms": ("GET /tasks?limit=50, median", "ms"),
    "list_completed_ms": ("GET /tasks?status=completed, median", "ms"),
    "list_pending_of_type_ms": ("GET /tasks?status=pending&type=..., median", "ms"),
    "list_failed_ms": ("GET /tasks?status=failed (none), median", "ms"),
}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--tasks", type=click.IntRange(1, 10_000_000), default=20_000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Worker processes running taskmanager.Worker with a no-op handler.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 100),
    default=100,
    show_default=True,
    help="Tasks each worker runs at once (its claims ask for its free slots; 100 is the most "
    "one claim may take).",
)
@click.option(
    "--api-url", default=None, help="Measure this running API instead of starting a server."
)
@click.option(
    "--database-url",
    default=None,
    help="sqlite (default: a temporary file), or a MariaDB/PostgreSQL server URL: the "
    "benchmark creates a scratch database there and drops it afterwards.",
)
@click.option(
    "--server-workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes of the started server.  [default: serve's default]",
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Runs, each with a fresh server; the report gives medians with min-max.",
)
@click.option("--latency-tries", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option(
    "--enqueue-clients",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Concurrent connections creating one task per request.",
)
@click.option(
    "--idle-polls",
    type=click.IntRange(0, 5000),
    default=0,
    show_default=True,
    help="Also measure server memory while this many claims long-poll an empty queue.",
)
@click.option(
    "--backlog",
    type=click.IntRange(0, 100_000_000),
    default=0,
    show_default=True,
    help="Pending tasks queued ahead (through the store) before the drain; the drain stops "
    "after --tasks completions, so the backlog stays. No idle latency then.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench(repeat: int, as_json: bool, **values: Any) -> None:
    """Enqueue N no-op tasks, drain them with W worker processes, and report the rates."""
    from taskmanager.bench.run import BenchOptions, check_reachable, run_once
    from taskmanager.bench.target import BenchError

    options = BenchOptions(**values)
    # SIGTERM unwinds like Ctrl-C: the server, the workers and a scratch database are cleaned up.
    signal.signal(signal.SIGTERM, _interrupt)
    if options.api_url is not None and (options.database_url or options.server_workers):
        raise click.UsageError("--api-url measures a running server: no --database-url then")
    if options.api_url is not None and options.backlog:
        raise click.UsageError("--backlog fills the database of a server the benchmark starts")
    runs = []
    try:
        if options.api_url is not None:
            check_reachable(options.api_url)
        for number in range(repeat):
            with _progress(number, repeat, quiet=as_json) as progress:
                runs.append(run_once(options, progress))
    except BenchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    report = _report(options, runs)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_table(report)


def _summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    from taskmanager.bench.figures import summarize

    return summarize(runs)


def _interrupt(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _report(options: BenchOptions, runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tasks": options.tasks,
        "workers": options.workers,
        "concurrency": options.concurrency,
        "server_workers": options.server_workers,
        "backlog": options.backlog,
        "database": _backend(options),
        "nproc": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "repeat": len(runs),
        "summary": _summarize(runs),
        "runs": runs,
    }


def _backend(options: BenchOptions) -> str:
    if options.api_url:
        return f"api {options.api_url}"
    return (options.database_url or "sqlite").split(":", 1)[0]


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report['tasks']} tasks, {report['workers']} workers x {report['concurrency']}, "
        f"{report['database']}, {report['repeat']} run(s)"
    )
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("min-max", justify="right")
    for key, (label, unit) in LABELS.items():
        value = report["summary"].get(key)
        if isinstance(value, dict):
            spread = f"{value['min']:,.1f}-{value['max']:,.1f}"
            table.add_row(f"{label} ({unit})", f"{value['median']:,.1f}", spread)
    Console().print(table)
    click.echo(f"load average: {' '.join(str(v) for v in report['load_average'])}")


@contextmanager
def _progress(number: int, repeat: int, *, quiet: bool) -> Iterator[Progress]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prefix = f"run {number + 1}/{repeat}: " if repeat > 1 else ""
    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
    ) as shown:

        def update(phase: str, done: int, total: int) -> None:
            if phase not in bars:
                bars[phase] = shown.add_task(prefix + phase, total=total)
            shown.update(bars[phase], completed=done)

        yield update
