"""Time the JSON answers of the hot routes: FastAPI's path against `server/answers.py`.

FastAPI's path is what a route returning a model gets: validation against the response model,
conversion to Python dicts, then the standard library's encoder. Prints CPU microseconds per
task of each, the fastest of 5 rounds, for a claim batch of 32 and a create batch of 1,000, and
checks that both write the same bytes.

    .venv/bin/python benchmarks/answers.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable

from fastapi.routing import serialize_response
from fastapi.utils import create_model_field
from pydantic import BaseModel
from starlette.responses import JSONResponse

from taskmanager.models import ClaimedBatch, TaskBatch, TaskCreate
from taskmanager.server.answers import answer
from taskmanager.storage import open_store

ROUNDS = 5


def fastest(work: Callable[[], bytes], calls: int, tasks: int) -> tuple[float, bytes]:
    """CPU microseconds per task of the fastest round, and what the work wrote."""
    best, written = float("inf"), b""
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(calls):
            written = work()
        best = min(best, (time.process_time() - started) / calls / tasks * 1e6)
    return best, written


def compare(name: str, kind: type[BaseModel], value: BaseModel, tasks: int) -> None:
    field = create_model_field(name="Response_" + kind.__name__, type_=kind, mode="serialization")
    loop = asyncio.new_event_loop()

    def fastapi_path() -> bytes:
        content = loop.run_until_complete(
            serialize_response(field=field, response_content=value, is_coroutine=True)
        )
        return bytes(JSONResponse(content).body)

    def answers_path() -> bytes:
        return bytes(answer(kind, value).body)

    calls = max(1, 20_000 // tasks)
    before, old = fastest(fastapi_path, calls, tasks)
    after, new = fastest(answers_path, calls, tasks)
    same = "same bytes" if old == new else "DIFFERENT bytes"
    print(f"{name}: {before:.1f} -> {after:.1f} us per task ({same})")
    loop.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/answers.db")
        store.migrate()
        made = store.create_tasks([TaskCreate(type="bench.answers", params={"n": 1})] * 1000)
        claimed = store.claim("bench-answers", None, None, 32)
        compare("claim batch of 32", ClaimedBatch, ClaimedBatch(tasks=claimed), len(claimed))
        compare("create batch of 1000", TaskBatch, TaskBatch(tasks=[o.task for o in made]), 1000)
        store.close()


if __name__ == "__main__":
    main()
