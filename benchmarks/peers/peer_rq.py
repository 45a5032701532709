"""RQ on Redis: SimpleWorker (no fork per job), bulk enqueue through a pipeline."""

from __future__ import annotations

from importlib.metadata import version as installed

from common import REDIS_URL, bin_path, fresh_redis_db, main, stamp
from redis import Redis
from rq import Queue


def noop() -> None:
    stamp()


class RQPeer:
    name = "RQ (Redis)"

    def setup(self) -> None:
        fresh_redis_db()
        self.queue = Queue("bench", connection=Redis.from_url(REDIS_URL))

    def enqueue_one(self) -> None:
        self.queue.enqueue("peer_rq.noop")

    def enqueue_many(self, n: int) -> None:
        for start in range(0, n, 1000):
            jobs = [Queue.prepare_data("peer_rq.noop") for _ in range(min(1000, n - start))]
            self.queue.enqueue_many(jobs)

    def worker_command(self, index: int, workers: int) -> list[str]:
        return [bin_path("rq"), "worker", "--worker-class", "rq.worker.SimpleWorker",
                "--url", REDIS_URL, "--quiet", "bench"]  # fmt: skip

    def version(self) -> str:
        return installed("rq")


if __name__ == "__main__":
    main(RQPeer())
