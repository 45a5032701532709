"""A worker that claims one task, heartbeats it, and reports every call as a JSON line.

Run as `python zombie_worker.py API_URL WORKER_ID LEASE_SECONDS REPORT_PATH`. While it runs
it heartbeats every fraction of its lease. When a heartbeat is refused (say, after it was
stopped past its lease and another worker took the task over) it tries to complete and then
to fail the task with the token it still holds, and exits. Each call's outcome is one line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError


def report(path: Path, **fields: Any) -> None:
    with path.open("a") as out:
        out.write(json.dumps(fields) + "\n")


def outcome(call: Any) -> dict[str, Any]:
    try:
        task = call()
    except TaskManagerError as exc:
        return {"outcome": exc.code, "message": exc.message}
    return {"outcome": "ok", "task": task}


def main(api_url: str, worker_id: str, lease_seconds: float, path: Path) -> int:
    with Client(api_url, timeout=10) as client:
        task = None
        for _ in range(100):
            task = client.claim(worker_id, lease_seconds=lease_seconds, wait_seconds=1)
            if task is not None:
                break
        if task is None:
            report(path, call="claim", outcome="none")
            return 1
        task_id, token = task["id"], task["lease_token"]
        report(path, call="claim", outcome="ok", task=task)
        for _ in range(600):
            time.sleep(lease_seconds / 4)
            beat = outcome(
                lambda: client.heartbeat(task_id, worker_id, token, lease_seconds=lease_seconds)
            )
            report(path, call="heartbeat", **beat)
            if beat["outcome"] != "ok":
                break
        result = {"by": worker_id}
        done = outcome(
            lambda: client.complete(task_id, result, worker_id=worker_id, lease_token=token)
        )
        report(path, call="complete", **done)
        failed = outcome(
            lambda: client.fail(task_id, "zombie says no", worker_id=worker_id, lease_token=token)
        )
        report(path, call="fail", **failed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4])))
