"""How big the fault scenarios run: the CI tier by default, `make reliability` for more.

`TASKMANAGER_RELIABILITY_SCALE=10` multiplies task counts, faults and durations by ten.
"""

from __future__ import annotations

import os

SCALE = max(1, int(os.environ.get("TASKMANAGER_RELIABILITY_SCALE", "1") or "1"))


def scaled(count: int) -> int:
    """A CI-tier count at this run's scale."""
    return count * SCALE
