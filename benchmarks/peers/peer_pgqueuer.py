"""PgQueuer on PostgreSQL (asyncpg): batches of 10, LISTEN/NOTIFY, bulk enqueue."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from importlib.metadata import version as installed

import asyncpg
from common import PG_URL, bin_path, fresh_pg_database, main, stamp
from pgqueuer import AsyncpgDriver, Job, PgQueuer, Queries


async def create() -> PgQueuer:
    """The worker's factory: `pgq run peer_pgqueuer:create`."""
    pgq = PgQueuer(AsyncpgDriver(await asyncpg.connect(PG_URL)))

    @pgq.entrypoint("noop")
    async def noop(_job: Job) -> None:
        stamp()

    return pgq


async def serve() -> None:
    """What `pgq run peer_pgqueuer:create --batch-size 10` does."""
    pgq = await create()
    await pgq.run(batch_size=10)


class PgQueuerPeer:
    name = "PgQueuer (PostgreSQL)"

    def setup(self) -> None:
        fresh_pg_database()
        subprocess.run([bin_path("pgq"), "--pg-dsn", PG_URL, "install"], check=True,
                       capture_output=True)  # fmt: skip
        self.loop = asyncio.new_event_loop()
        conn = self.loop.run_until_complete(asyncpg.connect(PG_URL))
        self.queries = Queries(AsyncpgDriver(conn))

    def enqueue_one(self) -> None:
        self.loop.run_until_complete(self.queries.enqueue("noop", None))

    def enqueue_many(self, n: int) -> None:
        for start in range(0, n, 1000):
            size = min(1000, n - start)
            call = self.queries.enqueue(["noop"] * size, [None] * size, [0] * size)
            self.loop.run_until_complete(call)

    def worker_command(self, index: int, workers: int) -> list[str]:
        # `pgq run` of this release fails on its own --log-level handling: run the same
        # PgQueuer.run(batch_size=10) it would.
        return [sys.executable, "-c", "import asyncio, peer_pgqueuer as p; asyncio.run(p.serve())"]

    def version(self) -> str:
        return installed("pgqueuer")


if __name__ == "__main__":
    main(PgQueuerPeer())
