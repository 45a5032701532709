"""Pure arithmetic on measurements: rates, steady rates, percentiles, medians of runs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank on the sorted values)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def drain_rates(started_at: float, done: Sequence[float]) -> tuple[float, float]:
    """(overall, steady): tasks/s from the start to the last completion, and over the middle
    80 % of the completions (from the 10 % mark to the 90 % mark)."""
    if not done:
        return 0.0, 0.0
    ordered = sorted(done)
    overall = len(ordered) / max(ordered[-1] - started_at, 1e-9)
    low, high = int(len(ordered) * 0.1), int(len(ordered) * 0.9) - 1
    if high <= low:
        return overall, overall
    steady = (high - low) / max(ordered[high] - ordered[low], 1e-9)
    return overall, steady


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of each numeric figure over several runs; other values from the first."""
    summary: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
        if isinstance(first, bool) or not isinstance(first, int | float) or not values:
            summary[key] = first
        else:
            summary[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
    return summary
