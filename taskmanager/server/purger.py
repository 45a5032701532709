"""The optional background purge: every N minutes, delete old finished tasks in small batches."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from taskmanager.retention import PurgePlan, purge
from taskmanager.storage import Store

log = logging.getLogger("taskmanager.server.purge")


def _progress(total: int) -> None:
    log.debug("purge: %d deleted so far", total, extra={"purged": total})


async def purge_forever(
    store: Store, plan: PurgePlan, interval_seconds: float, stop: threading.Event
) -> None:
    """Purge now and then every interval. Batches run in a thread, one short transaction each,
    so claims take turns with them; `stop` ends the run after the current batch."""
    while not stop.is_set():
        try:
            deleted = await asyncio.to_thread(purge, store, plan, _progress, stop.is_set)
            if deleted:
                log.info("purged %d finished tasks", deleted, extra={"purged": deleted})
        except Exception:
            log.exception("background purge failed; trying again at the next interval")
        await asyncio.sleep(interval_seconds)


@asynccontextmanager
async def background_purge(
    store: Store, plan: PurgePlan | None, interval_seconds: float
) -> AsyncIterator[None]:
    """Purge in the background while the server runs, when a plan is set."""
    if plan is None or interval_seconds <= 0:
        yield
        return
    stop = threading.Event()
    task = asyncio.create_task(purge_forever(store, plan, interval_seconds, stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
