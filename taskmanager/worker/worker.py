"""`Worker`: the handlers of an application, and the way to run them against the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NoReturn, TypeVar

from taskmanager import heap
from taskmanager.client import AsyncClient
from taskmanager.worker.config import MAX_TASK_TYPES, ConfigError, WorkerConfig
from taskmanager.worker.examples import EXAMPLES
from taskmanager.worker.handlers import Handler, Registry
from taskmanager.worker.loop import Runner

H = TypeVar("H", bound=Handler)
T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to its end on uvloop where it is installed (it comes with the server's
    dependencies, but for Windows), else on asyncio's own loop. A worker spends much of its
    CPU in the event loop: uvloop's takes about a seventh less per task (docs/worker.md).

    The process is the worker's from here on: its start-up heap is settled first
    (`heap.settle`)."""
    heap.settle()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed wherever the tests run
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


class Worker:
    """Handlers by task type; `run()` claims and runs tasks until told to stop.

    The built-in `example.*` handlers are included unless `examples=False`; a handler of your
    own for one of their types takes its place.
    """

    def __init__(
        self, handlers: Mapping[str, Handler] | None = None, *, examples: bool = True
    ) -> None:
        self.registry = Registry()
        self._examples = set(EXAMPLES) if examples else set()
        for task_type in self._examples:
            self.registry.add(task_type, EXAMPLES[task_type])
        self.add_handlers(handlers or {})

    def handler(self, task_type: str) -> Callable[[H], H]:
        """Decorator: `@worker.handler("myapp.email.send")` registers the function below it."""

        def register(function: H) -> H:
            self.add_handler(task_type, function)
            return function

        return register

    def add_handler(self, task_type: str, function: Handler) -> None:
        """Register `function` for `task_type`; registering a type twice is an error."""
        replace = task_type in self._examples
        self.registry.add(task_type, function, replace=replace)
        self._examples.discard(task_type)

    def add_handlers(self, handlers: Mapping[str, Handler]) -> None:
        """Register several handlers: `{"myapp.email.send": send, ...}`."""
        for task_type, function in handlers.items():
            self.add_handler(task_type, function)

    def merge(self, other: Worker) -> None:
        """Take over the handlers another Worker registered (not its built-in examples)."""
        for task_type in other.task_types:
            registered = other.registry.get(task_type)
            if registered is not None and task_type not in other._examples:
                self.add_handler(task_type, registered.function)

    @property
    def task_types(self) -> list[str]:
        return self.registry.types()

    def check(self, config: WorkerConfig) -> None:
        """ConfigError when the configuration asks for types this worker cannot run."""
        if not len(self.registry):
            raise ConfigError("no handlers are registered: nothing to run")
        missing = [name for name in config.task_types or () if name not in self.registry]
        if missing:
            known = ", ".join(self.task_types)
            raise ConfigError(f"TASK_TYPES: no handler for {', '.join(missing)} (known: {known})")
        if config.task_types is None and len(self.registry) > MAX_TASK_TYPES:
            raise ConfigError(f"more than {MAX_TASK_TYPES} handlers: choose with TASK_TYPES")

    def run(self, config: WorkerConfig | None = None) -> int:
        """Run until stopped (max runs, SIGTERM/SIGINT, or a failure); returns the exit status."""
        return run_event_loop(self.run_async(config or WorkerConfig()))

    async def run_async(self, config: WorkerConfig, *, client: AsyncClient | None = None) -> int:
        """The same as `run`, in a running event loop; `client` talks to the API if given."""
        self.check(config)
        if config.task_types is None:
            config = config.with_values(task_types=tuple(self.task_types))
        own = client is None
        # Certificates are always verified: against the system's authorities or a given bundle.
        verify: str | bool = config.ca_bundle or True
        client = client or AsyncClient(config.api_url, api_key=config.api_key, verify=verify)
        try:
            return await Runner(self.registry, config, client).run()
        finally:
            if own:
                await client.aclose()

    def main(self, args: list[str] | None = None, prog_name: str | None = None) -> NoReturn:
        """Read flags, environment and `--config` file, run, and exit with the run's status."""
        from taskmanager.cli.worker import run_command

        run_command(self, args, prog_name)
