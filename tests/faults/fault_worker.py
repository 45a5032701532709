"""A worker process for the fault scenarios, on `taskmanager.client.Client`.

It claims up to `--batch` tasks at a time in each of `--concurrency` threads, heartbeats
every task in hand every third of its lease, sleeps as their handler, completes them in one
call with their lease tokens, and appends every step to a JSON-lines journal as it happens, so
that a kill -9 leaves a readable record up to the instant of the kill.
Run as `python -m tests.faults.fault_worker`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from typing import Any

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError
from tests.multiserver.history import classify, epoch

COMPLETE_TRIES = 20


class Journal:
    """Whole lines appended with one write each: a kill leaves at most one torn last line."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def write(self, **record: Any) -> None:
        line = (json.dumps({"t": time.time(), **record}) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)


class FaultWorker:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.id: str = options.worker_id
        self.lease: float = options.lease_seconds
        self.journal = Journal(options.journal)
        self.stop = threading.Event()
        self.in_hand: dict[str, str] = {}  # lease token -> task id
        self.lock = threading.Lock()

    def claim_loop(self, client: Client) -> None:
        while not self.stop.is_set():
            try:
                tasks = client.claim_batch(
                    self.id, self.options.batch, lease_seconds=self.lease, wait_seconds=1
                )
            except TaskManagerError as exc:
                self.journal.write(op="claim", outcome=classify(exc), error=str(exc))
                time.sleep(0.1)
                continue
            if tasks:
                self.run(client, tasks)

    def run(self, client: Client, tasks: list[dict[str, Any]]) -> None:
        """Run the batch's handlers side by side (one sleep), then complete them in one call."""
        for task in tasks:
            tid, token = task["id"], task["lease_token"]
            lease = {
                "claimed_at": epoch(task["claimed_at"]),
                "lease_expires_at": epoch(task["lease_expires_at"]),
            }
            self.journal.write(op="claim", outcome="ok", task=tid, token=token, **lease)
            with self.lock:
                self.in_hand[token] = tid
            self.journal.write(
                op="handler_start", task=tid, token=token,
                lease_until=lease["lease_expires_at"], **lease,
            )  # fmt: skip
        time.sleep(self.options.handler_seconds)
        for task in tasks:
            self.journal.write(op="handler_end", task=task["id"], token=task["lease_token"])
        self.complete(client, tasks)
        with self.lock:
            for task in tasks:
                self.in_hand.pop(task["lease_token"], None)

    def complete(self, client: Client, tasks: list[dict[str, Any]]) -> None:
        """Complete the batch, again after an unknown outcome: the same tokens make it a replay."""
        items = [{"id": t["id"], "lease_token": t["lease_token"], "result": {}} for t in tasks]
        for _ in range(COMPLETE_TRIES):
            try:
                outcomes = client.complete_batch(self.id, items)
            except TaskManagerError as exc:
                for item in items:
                    self.journal.write(
                        op="complete", outcome=classify(exc), task=item["id"],
                        token=item["lease_token"], error=str(exc),
                    )  # fmt: skip
                time.sleep(0.2)
                continue
            self.record(items, outcomes)
            return

    def record(self, items: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
        tokens = {item["id"]: item["lease_token"] for item in items}
        for outcome in outcomes:
            tid = outcome["id"]
            if outcome["outcome"] == "completed":
                ended = epoch(outcome["task"]["completed_at"])
                self.journal.write(
                    op="complete", outcome="ok", task=tid, token=tokens[tid],
                    lease_expires_at=ended,
                )  # fmt: skip
            else:
                self.journal.write(
                    op="complete", outcome="fail", task=tid, token=tokens[tid],
                    error=str(outcome["error"]),
                )  # fmt: skip

    def heartbeat_loop(self, client: Client) -> None:
        while not self.stop.wait(self.lease / 3):
            with self.lock:
                leases = list(self.in_hand.items())
            for token, tid in leases:
                self.beat(client, tid, token)

    def beat(self, client: Client, tid: str, token: str) -> None:
        try:
            task = client.heartbeat(tid, self.id, token, lease_seconds=self.lease)
        except TaskManagerError as exc:
            self.journal.write(
                op="heartbeat", outcome=classify(exc), task=tid, token=token, error=str(exc)
            )
            return
        expires = epoch(task["lease_expires_at"])
        self.journal.write(
            op="heartbeat", outcome="ok", task=tid, token=token, lease_expires_at=expires
        )

    def serve(self) -> None:
        urls = self.options.api_url
        clients = [Client(urls[n % len(urls)], timeout=10) for n in range(self.options.concurrency)]
        threads = [threading.Thread(target=self.claim_loop, args=(c,)) for c in clients]
        beater = Client(urls[0], timeout=10)
        threads.append(threading.Thread(target=self.heartbeat_loop, args=(beater,), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads[:-1]:
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-url", action="append", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--lease-seconds", type=float, default=3.0)
    parser.add_argument("--handler-seconds", type=float, default=0.1)
    worker = FaultWorker(parser.parse_args())
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    worker.serve()


if __name__ == "__main__":
    main()
