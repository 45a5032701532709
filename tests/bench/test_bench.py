"""`taskmanager bench` end to end on SQLite, and the arithmetic of its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from taskmanager.bench.figures import drain_rates, percentile, summarize


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKMANAGER_")}
    return subprocess.run(
        [sys.executable, "-m", "taskmanager", "bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_bench_drains_every_task_and_reports_sane_figures() -> None:
    done = bench("--tasks", "300", "--workers", "2", "--json", "--latency-tries", "10")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["tasks"], report["workers"], report["database"]) == (300, 2, "sqlite")
    (run,) = report["runs"]
    assert run["completed"] == 300
    for figure in ("enqueue_single_per_s", "enqueue_batch_per_s", "drain_per_s"):
        assert run[figure] > 0
        assert report["summary"][figure]["median"] == run[figure]
    assert run["steady_drain_per_s"] > 0
    assert 0 < run["idle_latency_median_ms"] <= run["idle_latency_p90_ms"]
    assert run["server_rss_idle_mb"] > 10
    for read in ("stats_ms", "list_newest_ms", "list_completed_ms", "list_failed_ms"):
        assert run[read] > 0
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "0"], "Invalid value for '--tasks'"),
        (["--workers", "many"], "Invalid value for '--workers'"),
        (["--database-url", "oracle://x/y"], "--database-url: unsupported database URL scheme"),
        (["--api-url", "http://127.0.0.1:9/api"], "error: --api-url: cannot reach"),
        (["--api-url", "http://127.0.0.1:9/api", "--server-workers", "2"], "no --database-url"),
    ],
)
def test_bad_options_get_a_clear_message_and_no_traceback(args: list[str], message: str) -> None:
    done = bench(*args, "--json", timeout=30)
    assert done.returncode in (1, 2)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_drain_rates_cover_the_whole_run_and_its_middle() -> None:
    # 100 completions one per 10 ms after a 1 s start-up.
    done = [1.0 + i * 0.01 for i in range(1, 101)]
    overall, steady = drain_rates(0.0, done)
    assert overall == pytest.approx(100 / 2.0)
    assert steady == pytest.approx(100.0)


def test_percentile_and_summary() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(list(range(11)), 0.9) == 9
    summary = summarize(
        [{"rate": 3.0, "db": "sqlite"}, {"rate": 1.0, "db": "sqlite"}, {"rate": 2.0}]
    )
    assert summary["rate"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert summary["db"] == "sqlite"
