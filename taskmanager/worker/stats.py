"""What a worker did: counters for the final statistics."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class WorkerStats:
    """Outcomes by name (completed, retried, failed, ...) and the time spent in handlers."""

    started_at: float = field(default_factory=time.monotonic)
    outcomes: Counter[str] = field(default_factory=Counter)
    busy_seconds: float = 0.0
    api_errors: int = 0

    def record(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.busy_seconds += seconds

    @property
    def processed(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> dict[str, float | int]:
        """The numbers of the final log line."""
        elapsed = time.monotonic() - self.started_at
        figures: dict[str, float | int] = {
            "processed": self.processed,
            **{name: self.outcomes[name] for name in sorted(self.outcomes)},
            "api_errors": self.api_errors,
            "uptime_seconds": round(elapsed, 3),
        }
        if self.processed:
            figures["avg_task_seconds"] = round(self.busy_seconds / self.processed, 3)
        return figures

    def describe(self) -> str:
        parts = [f"{name}={value}" for name, value in self.summary().items()]
        return " ".join(parts)
