"""Noticing tasks created by other server processes, to wake this process's long polls."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from taskmanager.storage.schema import tasks

log = logging.getLogger("taskmanager.storage")

Notify = Callable[[str | None, int], None]
# Past this many new tasks since the last look, wake everyone rather than count them by type.
MAX_ANNOUNCED = 10_000
WAKE_ALL = 1_000_000


class SeqPoller:
    """Polls the newest task sequence number while anyone waits; reports new tasks by type.

    One indexed query per interval per server process, whatever the number of waiting claims.
    """

    def __init__(
        self, engine: Engine, notify: Notify, active: Callable[[], bool], interval: float
    ) -> None:
        self._engine = engine
        self._notify = notify
        self._active = active
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-watch", daemon=True)
        self._last: int | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            # While nobody waits there is nothing to wake; the mark stays, so that the tasks
            # created meanwhile are announced when someone waits again.
            if not self._active():
                continue
            try:
                self._poll()
            except SQLAlchemyError as exc:
                log.debug("task watch poll failed: %s", exc)

    def _poll(self) -> None:
        with self._engine.connect() as conn:
            newest = conn.execute(select(func.max(tasks.c.seq))).scalar_one() or 0
            last = self._last
            if last is None or newest - last > MAX_ANNOUNCED:
                # The first mark (claims waiting now read the database before it), or too many
                # new tasks to sort by type: let every waiting claim look once more.
                self._last = newest
                self._notify(None, WAKE_ALL)
                return
            if newest <= last:
                return
            counts = conn.execute(
                select(tasks.c.type, func.count())
                .where(tasks.c.seq > last, tasks.c.seq <= newest)
                .group_by(tasks.c.type)
            ).all()
            conn.rollback()
        self._last = newest
        for task_type, count in counts:
            self._notify(task_type, int(count))
