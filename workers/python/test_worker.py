#!/usr/bin/env python3
"""Create a few test tasks of the built-in example types, for a worker to pick up.

python test_worker.py --num-tasks=5
python worker.py --max-runs=5
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from taskmanager.client import DEFAULT_API_URL, Client
from taskmanager.errors import TaskManagerError

SAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("example.echo", {"message": "Hello, World!"}),
    ("example.uppercase", {"text": "hello, world"}),
    ("example.math.add", {"a": 2, "b": 3}),
    ("example.sleep", {"seconds": 0.5}),
]
ERROR_SAMPLE: tuple[str, dict[str, Any]] = ("example.error", {"message": "failing on purpose"})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-tasks", type=int, default=5, help="how many tasks (default 5)")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("TASKMANAGER_API_URL") or DEFAULT_API_URL,
        help="API base URL (env TASKMANAGER_API_URL)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TASKMANAGER_API_KEY") or None,
        help="API key (env TASKMANAGER_API_KEY)",
    )
    parser.add_argument(
        "--with-errors", action="store_true", help="make every fifth task an example.error"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.num_tasks <= 1000:
        parser.error("--num-tasks must be from 1 to 1000")
    return args


def sample(index: int, with_errors: bool) -> dict[str, Any]:
    task_type, params = SAMPLES[index % len(SAMPLES)]
    if with_errors and index % 5 == 4:
        task_type, params = ERROR_SAMPLE
    return {"type": task_type, "params": {**params, "n": index + 1}}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tasks = [sample(index, args.with_errors) for index in range(args.num_tasks)]
    try:
        with Client(args.api_url, api_key=args.api_key) as client:
            created = client.create_tasks(tasks)
    except TaskManagerError as exc:
        print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
        print(
            "Is the API running? Start it with `taskmanager serve`, or set --api-url.",
            file=sys.stderr,
        )
        return 1
    for task in created:
        print(f"created {task['id']} {task['type']}")
    print(
        f"{len(created)} task(s) created at {args.api_url}; run `python worker.py` to process them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
