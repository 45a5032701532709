"""Celery 5 on Redis: solo pool per process (no IPC), no result backend, deep prefetch."""

from __future__ import annotations

from importlib.metadata import version as installed

from celery import Celery
from common import REDIS_URL, bin_path, fresh_redis_db, main, stamp

app = Celery("peer_celery", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=64,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="noop", queue="bench")
def noop() -> None:
    stamp()


class CeleryPeer:
    name = "Celery (Redis)"

    def setup(self) -> None:
        fresh_redis_db()

    def enqueue_one(self) -> None:
        noop.apply_async(queue="bench")

    def enqueue_many(self, n: int) -> None:
        for _ in range(n):  # Celery has no bulk publish
            noop.apply_async(queue="bench")

    def worker_command(self, index: int, workers: int) -> list[str]:
        return [
            bin_path("celery"), "-A", "peer_celery", "worker", "--pool", "solo",
            "-n", f"bench{index}@%h", "-Q", "bench", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "WARNING",
        ]  # fmt: skip

    def version(self) -> str:
        return installed("celery")


if __name__ == "__main__":
    main(CeleryPeer())
