"""Keeping a long-running process's heap out of the garbage collector's way.

A server or worker process builds most of its objects once, at start-up: modules, classes,
routes, schemas, compiled statements, about 130,000 objects in the server. Each full pass of
the collector walked them all again, and under load a pass came every few seconds: 80 ms each
in the server. And every 700 new objects that outlived their first reference count, a young
pass ran: a worker with 100 tasks in hand makes that many in a few tasks (their asyncio tasks,
futures and coroutines), and spent a fifth of its CPU in the collector.

`settle()`, called once a process that owns its interpreter has started, moves what start-up
built to the permanent generation, where passes no longer look (it lives as long as the
process anyway), and lets young passes wait for 10,000 new objects instead of 700.
"""

from __future__ import annotations

import gc

# New objects between two young passes (CPython's default is 700).
YOUNG_OBJECTS = 10_000


def settle() -> None:
    """Freeze what exists now (`gc.freeze`) and space the young passes (`YOUNG_OBJECTS`)."""
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)
