"""Where the server's time goes on the hot path: cProfile (CPU time) of the ASGI app, in-process.

Creates tasks in batches, then claims (batch of 32) and completes (batch) until the queue is
empty, through the real app (routing, validation, storage, serialization), without the network.
Run: .venv/bin/python benchmarks/profile_server.py [--tasks 5000] [--limit 32] [--top 30]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import httpx

from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings


async def drain(http: httpx.AsyncClient, limit: int) -> int:
    done = 0
    while True:
        answer = await http.post("tasks/claim/batch", json={"worker_id": "p", "limit": limit})
        claimed = answer.json()["tasks"]
        if not claimed:
            return done
        items = [{"id": t["id"], "lease_token": t["lease_token"], "result": {}} for t in claimed]
        await http.post("tasks/complete/batch", json={"worker_id": "p", "tasks": items})
        done += len(claimed)


async def main(tasks: int, limit: int, top: int, singles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{Path(tmp) / 'p.db'}", log_level="warning")
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            base = "http://test/api/"
            async with httpx.AsyncClient(transport=transport, base_url=base) as http:
                for _ in range(0, tasks, 1000):
                    await http.post("tasks/batch", json={"tasks": [{"type": "p.noop"}] * 1000})
                profile = cProfile.Profile(time.process_time)
                cpu = time.process_time()
                profile.enable()
                done = await drain(http, limit)
                for _ in range(singles):
                    await http.post("tasks", json={"type": "p.one"})
                profile.disable()
                cpu = time.process_time() - cpu
    print(f"{done} tasks claimed and completed in batches of {limit}, {singles} single creates:")
    print(f"{cpu:.2f} s CPU, {cpu * 1000 / max(done, 1):.3f} ms per task (profiler included)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--singles", type=int, default=0)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.limit, args.top, args.singles))
