"""`taskmanager worker`: run the Python worker with the handlers of your application."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import click

from taskmanager.worker.config import OPTIONS, ConfigError, WorkerConfig, load_config
from taskmanager.worker.logs import setup_logging
from taskmanager.worker.loop import EXIT_CONFIG
from taskmanager.worker.worker import Worker

EPILOG = (
    "Each option can also come from its environment variable or from the --config file "
    "(KEY=VALUE lines, keys named like the environment variables); a flag wins over the "
    "environment, which wins over the file. Exit status: 0 after --max-runs or a stop signal, "
    "1 when the API is unreachable, fails too often, or a second signal cuts the run short, "
    "2 for invalid configuration."
)


def _option_decorators() -> list[Any]:
    decorators = []
    for option in OPTIONS:
        help_text = f"{option.help}  [env {option.env}; default: {option.default}]"
        if option.field == "debug":
            # `--debug` alone means true; `--debug=false` too is accepted, as the PHP worker does.
            decorators.append(
                click.option(
                    option.flag,
                    option.field,
                    is_flag=False,
                    flag_value="true",
                    default=None,
                    metavar="[true|false]",
                    help=help_text,
                )
            )
        else:
            decorators.append(
                click.option(
                    option.flag, option.field, default=None, metavar="VALUE", help=help_text
                )
            )
    return decorators


def build_command(base: Worker | None = None) -> click.Command:
    """The `worker` command, running `base` (or a Worker with the built-in examples)."""

    def callback(config_file: Path | None, imports: tuple[str, ...], **flags: Any) -> None:
        config = _config_or_exit(flags, config_file)
        worker = _worker_or_exit(base, imports, config)
        setup_logging(debug=config.debug, log_format=config.log_format, worker_id=config.worker_id)
        sys.exit(worker.run(config))

    params: list[click.Parameter] = [
        click.Option(
            ["--config", "config_file"],
            type=click.Path(path_type=Path),
            default=None,
            help="A KEY=VALUE file of settings (e.g. worker.conf).",
        ),
        click.Option(
            ["--import", "imports"],
            multiple=True,
            metavar="MODULE[:NAME]",
            help="Load handlers: a module defining `worker` (a taskmanager Worker) "
            "or `handlers` (a dict of type to function), or MODULE:NAME naming one. "
            "Repeatable.",
        ),
    ]
    command = click.Command(
        "worker",
        callback=callback,
        params=params,
        epilog=EPILOG,
        help="Claim tasks from the API and run their handlers until stopped.",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    for decorator in _option_decorators():
        decorator(command)
    return command


def _fail(message: str) -> NoReturn:
    for line in message.splitlines():
        click.echo(f"error: {line}", err=True)
    sys.exit(EXIT_CONFIG)


def _config_or_exit(flags: Mapping[str, Any], config_file: Path | None) -> WorkerConfig:
    try:
        return load_config(flags, os.environ, config_file)
    except ConfigError as exc:
        _fail(str(exc))


def _worker_or_exit(base: Worker | None, imports: tuple[str, ...], config: WorkerConfig) -> Worker:
    try:
        worker = load_workers(base, imports)
        worker.check(config)
    except ConfigError as exc:
        _fail(str(exc))
    return worker


def load_workers(base: Worker | None, specs: tuple[str, ...]) -> Worker:
    """`base` plus the handlers each `--import` names; ConfigError when one cannot be loaded."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `--import myapp.tasks` from the project directory
    worker = base
    for spec in specs:
        target = _resolve(spec)
        if isinstance(target, Worker):
            if worker is None:
                worker = target
            elif worker is not target:
                worker.merge(target)
        else:
            worker = worker or Worker()
            _add(worker, spec, target)
    return worker or Worker()


def _add(worker: Worker, spec: str, target: Any) -> None:
    if not isinstance(target, Mapping):
        raise ConfigError(
            f"--import {spec}: expected a Worker or a dict of handlers, got {type(target).__name__}"
        )
    try:
        worker.add_handlers(target)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"--import {spec}: {exc}") from None


def _resolve(spec: str) -> Any:
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"--import {spec}: cannot import {module_name}: {type(exc).__name__}: {exc}"
        ) from None
    names = [name] if name else ["worker", "handlers"]
    for candidate in names:
        if hasattr(module, candidate):
            return getattr(module, candidate)
    wanted = f"`{name}`" if name else "`worker` (a Worker) or `handlers` (a dict)"
    raise ConfigError(f"--import {spec}: {module_name} defines no {wanted}")


def run_command(
    worker: Worker | None, args: list[str] | None = None, prog_name: str | None = None
) -> NoReturn:
    """Run the worker command line for `worker` (the entry point of a standalone script)."""
    build_command(worker).main(args=args, prog_name=prog_name)
    sys.exit(0)  # not reached: the command always exits


worker = build_command()
