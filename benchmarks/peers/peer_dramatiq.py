"""Dramatiq on Redis: one process per worker with 8 threads, no retries."""

from __future__ import annotations

from importlib.metadata import version as installed

import dramatiq
from common import REDIS_URL, bin_path, fresh_redis_db, main, stamp
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=REDIS_URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="bench", max_retries=0)
def noop() -> None:
    stamp()


class DramatiqPeer:
    name = "Dramatiq (Redis)"

    def setup(self) -> None:
        fresh_redis_db()

    def enqueue_one(self) -> None:
        noop.send()

    def enqueue_many(self, n: int) -> None:
        for _ in range(n):
            noop.send()

    def worker_command(self, index: int, workers: int) -> list[str]:
        return [bin_path("dramatiq"), "peer_dramatiq", "--processes", "1", "--threads", "8",
                "--queues", "bench"]  # fmt: skip

    def version(self) -> str:
        return installed("dramatiq")


if __name__ == "__main__":
    main(DramatiqPeer())
