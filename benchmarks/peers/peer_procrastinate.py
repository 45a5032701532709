"""Procrastinate on PostgreSQL: async no-op task, LISTEN/NOTIFY, concurrency 10, batch_defer."""

from __future__ import annotations

from importlib.metadata import version as installed

import procrastinate
from common import PG_URL, bin_path, fresh_pg_database, main, stamp

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=PG_URL))


@app.task(name="noop", queue="bench")
async def noop() -> None:
    stamp()


class ProcrastinatePeer:
    name = "Procrastinate (PostgreSQL)"

    def setup(self) -> None:
        fresh_pg_database()
        self.opened = app.open()
        self.opened.__enter__()
        app.schema_manager.apply_schema()

    def enqueue_one(self) -> None:
        noop.defer()

    def enqueue_many(self, n: int) -> None:
        for start in range(0, n, 1000):
            noop.batch_defer(*[{} for _ in range(min(1000, n - start))])

    def worker_command(self, index: int, workers: int) -> list[str]:
        return [bin_path("procrastinate"), "--app", "peer_procrastinate.app", "worker",
                "--queues", "bench", "--concurrency", "10"]  # fmt: skip

    def version(self) -> str:
        return installed("procrastinate")


if __name__ == "__main__":
    main(ProcrastinatePeer())
