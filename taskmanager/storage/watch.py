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
            if not self._active():
                # Nobody waits: forget the mark, so a later wait starts from the present.
                self._last = None
                continue
            try:
                self._poll()
            except SQLAlchemyError as exc:
                log.debug("task watch poll failed: %s", exc)

    def _poll(self) -> None:
        with self._engine.connect() as conn:
            newest = conn.execute(select(func.max(tasks.c.seq))).scalar_one() or 0
            if self._last is None:
                # The claims waiting now looked at the database before this first mark: a task
                # created in between is below the mark. Let each of them look once more.
                self._last = newest
                self._notify(None, WAKE_ALL)
                return
            if newest <= self._last:
                self._last = newest
                return
            counts = conn.execute(
                select(tasks.c.type, func.count())
                .where(tasks.c.seq > self._last, tasks.c.seq <= newest)
                .group_by(tasks.c.type)
            ).all()
            conn.rollback()
        self._last = newest
        for task_type, count in counts:
            self._notify(task_type, int(count))
