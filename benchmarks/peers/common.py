"""The peer benchmarks' shared protocol: the job `taskmanager bench` runs, for another queue.

Enqueue N no-op tasks (one per call, then in bulk where the library has a bulk call), launch W
worker processes with the library's own CLI, count handler starts until all N ran (drain rate
from the launch to the last one, steady rate over the middle 80 %), then time 50 idle
round trips (enqueue -> the handler starts, the workers already waiting). Handlers record their
start in stamp files: 8-byte doubles appended with one write each, as `taskmanager bench` does.

Standard library only, so the peers' venv needs nothing of TaskManager.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

RECORD = struct.Struct("<d")
HERE = Path(__file__).resolve().parent
SINGLE_MAX = 2000
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/bench_peers")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
_fd: int | None = None


def stamp() -> None:
    """Record that a handler starts now (called by the peers' task functions)."""
    global _fd
    if _fd is None:
        path = Path(os.environ["BENCH_STAMP_DIR"]) / f"start-{os.getpid()}.bin"
        _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(_fd, RECORD.pack(time.time()))


def count(directory: Path) -> int:
    return sum(p.stat().st_size // RECORD.size for p in directory.glob("start-*.bin"))


def read(directory: Path) -> list[float]:
    found: list[float] = []
    for path in directory.glob("start-*.bin"):
        found.extend(v for (v,) in RECORD.iter_unpack(path.read_bytes()))
    return sorted(found)


class Peer(Protocol):
    name: str

    def setup(self) -> None: ...
    def enqueue_one(self) -> None: ...
    def enqueue_many(self, n: int) -> None: ...
    def worker_command(self, index: int, workers: int) -> list[list[str]] | list[str]: ...
    def version(self) -> str: ...


def drain_rates(started_at: float, done: list[float]) -> tuple[float, float]:
    overall = len(done) / max(done[-1] - started_at, 1e-9)
    low, high = int(len(done) * 0.1), int(len(done) * 0.9) - 1
    steady = (high - low) / max(done[high] - done[low], 1e-9) if high > low else overall
    return overall, steady


def _launch(command: list[str], stamp_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_STAMP_DIR": str(stamp_dir), "PYTHONPATH": str(HERE)}
    return subprocess.Popen(
        command,
        cwd=HERE,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def measure(peer: Peer, tasks: int, workers: int, tries: int) -> dict[str, Any]:
    """One run of the job for `peer`; the figures `taskmanager bench` reports."""
    peer.setup()
    figures: dict[str, Any] = {}
    single = min(max(tasks // 10, 1), SINGLE_MAX)
    started = time.perf_counter()
    for _ in range(single):
        peer.enqueue_one()
    figures["enqueue_single_per_s"] = single / (time.perf_counter() - started)
    started = time.perf_counter()
    peer.enqueue_many(tasks - single)
    figures["enqueue_batch_per_s"] = (tasks - single) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
        stamp_dir, log = Path(tmp), Path(tmp) / "workers.log"
        launched_at = time.time()
        commands = [peer.worker_command(i, workers) for i in range(workers)]
        processes = [_launch(c, stamp_dir, log) for c in commands if c]
        try:
            _wait_for(stamp_dir, tasks, processes, log)
            done = read(stamp_dir)[:tasks]
            figures["drain_per_s"], figures["steady_drain_per_s"] = drain_rates(launched_at, done)
            figures["completed"] = len(done)
            latencies = _latencies(peer, stamp_dir, tasks, tries)
            figures["idle_latency_median_ms"] = statistics.median(latencies) * 1000
            ordered = sorted(latencies)
            figures["idle_latency_p90_ms"] = ordered[round(0.9 * (len(ordered) - 1))] * 1000
        finally:
            _stop(processes)
    return figures


def _wait_for(stamp_dir: Path, tasks: int, processes: list[Any], log: Path) -> None:
    last, changed = -1, time.monotonic()
    while (done := count(stamp_dir)) < tasks:
        if done != last:
            last, changed = done, time.monotonic()
        if time.monotonic() - changed > 60 or all(p.poll() is not None for p in processes):
            raise SystemExit(f"stalled at {done}/{tasks}:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)


def _latencies(peer: Peer, stamp_dir: Path, seen: int, tries: int) -> list[float]:
    found = []
    for _ in range(tries):
        time.sleep(0.05)
        created = time.time()
        peer.enqueue_one()
        seen += 1
        deadline = time.monotonic() + 10
        while count(stamp_dir) < seen:
            if time.monotonic() > deadline:
                raise SystemExit("an idle worker did not start a task within 10 s")
            time.sleep(0.0005)
        found.append(read(stamp_dir)[-1] - created)
    return found


def main(peer: Peer) -> None:
    """`python <peer>.py --tasks N --workers W`: one run, one JSON object on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-tries", type=int, default=50)
    args = parser.parse_args()
    figures = measure(peer, args.tasks, args.workers, args.latency_tries)
    figures.update(peer=peer.name, version=peer.version(), tasks=args.tasks, workers=args.workers)
    json.dump(figures, sys.stdout)
    print()


def fresh_pg_database() -> None:
    """Drop and create the peers' own database (never the test suite's)."""
    import psycopg

    base, name = PG_URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def fresh_redis_db() -> None:
    """Empty the peers' own Redis database number."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def bin_path(name: str) -> str:
    """A console script of the venv running this file."""
    return str(Path(sys.executable).parent / name)
