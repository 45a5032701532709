"""Fault-worker processes that a test may kill -9, and their journals read back as a History."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.multiserver.history import Event

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WorkerProcess:
    worker_id: str
    journal: Path
    process: subprocess.Popen[bytes]


class WorkerPool:
    """Starts fault workers; every one is stopped (or killed) when the pool closes."""

    def __init__(self, tmp_path: Path, api_urls: list[str], lease_seconds: float) -> None:
        self.dir = tmp_path / "workers"
        self.dir.mkdir(exist_ok=True)
        self.api_urls = api_urls
        self.lease_seconds = lease_seconds
        self.started: list[WorkerProcess] = []

    def start(self, concurrency: int, handler_seconds: float) -> WorkerProcess:
        worker_id = f"fw{len(self.started)}"
        journal = self.dir / f"{worker_id}.jsonl"
        urls = [arg for url in self.api_urls for arg in ("--api-url", url)]
        command = [
            sys.executable, "-m", "tests.faults.fault_worker", *urls,
            "--worker-id", worker_id, "--journal", str(journal),
            "--concurrency", str(concurrency), "--lease-seconds", str(self.lease_seconds),
            "--handler-seconds", str(handler_seconds),
        ]  # fmt: skip
        log = (self.dir / f"{worker_id}.log").open("wb")
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        worker = WorkerProcess(worker_id, journal, process)
        self.started.append(worker)
        return worker

    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.started if w.process.poll() is None]

    def kill(self, worker: WorkerProcess) -> float:
        """SIGKILL the worker; the instant (epoch seconds) it was sent."""
        killed_at = time.time()
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        return killed_at

    def close(self) -> None:
        for worker in self.alive():
            worker.process.terminate()
        deadline = time.monotonic() + 10
        for worker in self.started:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


def journal_records(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's whole lines; a line torn by a kill is left out."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue


def journal_events(worker: WorkerProcess) -> Iterator[Event]:
    """A worker's journal as history events (instants are epoch seconds)."""
    for record in journal_records(worker.journal):
        task_ids = (record["task"],) if "task" in record else ()
        yield Event(
            record["op"],
            worker.worker_id,
            record.get("outcome", "ok"),
            task_ids,
            token=record.get("token"),
            started_at=record["t"],
            ended_at=record["t"],
            lease_until=record.get("lease_until"),
            error=record.get("error"),
            claimed_at=record.get("claimed_at"),
            lease_expires_at=record.get("lease_expires_at"),
        )
