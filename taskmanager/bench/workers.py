"""Worker processes for the benchmark: the real `taskmanager.Worker` with a no-op handler.

Each is a fresh interpreter that runs this module (`python -m taskmanager.bench.workers`), as
a deployment runs its worker script: it imports the worker and nothing of the benchmark's
command line. The handler records when it starts; the client records when the API accepted a
completion.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

from taskmanager.bench.stamps import StampWriter
from taskmanager.calls import Call
from taskmanager.client import AsyncClient
from taskmanager.worker import Worker, WorkerConfig
from taskmanager.worker.worker import run_event_loop

BENCH_TYPE = "bench.noop"
STARTED = "start"
DONE = "done"
T = TypeVar("T")


class StampingClient(AsyncClient):
    """An AsyncClient that records each completion the API accepted."""

    def __init__(self, api_url: str, done: StampWriter) -> None:
        super().__init__(api_url)
        self._done = done

    async def send(self, call: Call[T]) -> T:
        answer = await super().send(call)
        if call.path == "tasks/complete/batch":
            items: list[dict[str, Any]] = answer  # type: ignore[assignment]
            accepted = sum(1 for item in items if item.get("outcome") == "completed")
            if accepted:
                self._done.write(accepted)
        elif call.path.endswith("/complete"):
            self._done.write()
        return answer


def worker_main(api_url: str, concurrency: int, stamp_dir: str, index: int) -> None:
    """Run one benchmark worker until SIGTERM (the entry point of a worker process)."""
    logging.basicConfig(level=logging.WARNING)
    directory = Path(stamp_dir)
    started = StampWriter(directory, STARTED)
    done = StampWriter(directory, DONE)

    async def noop(_params: dict[str, Any]) -> None:
        started.write()

    worker = Worker({BENCH_TYPE: noop}, examples=False)
    config = WorkerConfig(
        api_url=api_url,
        worker_id=f"bench-{index}-{os.getpid()}",
        task_types=(BENCH_TYPE,),
        poll_interval=30.0,
        concurrency=concurrency,
    )

    async def main() -> int:
        return await worker.run_async(config, client=StampingClient(api_url, done))

    raise SystemExit(run_event_loop(main()))


def start_workers(
    api_url: str, count: int, concurrency: int, stamp_dir: Path
) -> list[subprocess.Popen[bytes]]:
    """Launch `count` worker processes, each a fresh interpreter running `worker_main`."""
    # The children import taskmanager from where this process did: the same interpreter and
    # environment find it there, but for a checkout this process was pointed at otherwise.
    env = dict(os.environ)
    source = str(Path(__file__).resolve().parents[2])
    if source not in sys.path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return [
        subprocess.Popen(
            [sys.executable, "-m", __name__, api_url, str(concurrency), str(stamp_dir), str(i)],
            env=env,
        )
        for i in range(count)
    ]


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM (finish what is in hand), then SIGKILL whatever is left after a few seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    _url, _concurrency, _stamp_dir, _index = sys.argv[1:5]
    worker_main(_url, int(_concurrency), _stamp_dir, int(_index))
