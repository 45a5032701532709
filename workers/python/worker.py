#!/usr/bin/env python3
"""A TaskManager worker you can run as is and extend with your own handlers.

    pip install -r requirements.txt
    python worker.py --debug
    python worker.py --api-url=http://localhost:8000/api --worker-id=worker-01 --max-runs=5

Options come from flags, environment variables or `--config worker.conf`; `--help` lists them.
The built-in `example.*` handlers are registered already. Add yours below: a handler takes the
task's params (and, if it wants, a TaskContext), returns a dict, and raises to fail.
"""

from __future__ import annotations

from taskmanager.worker import Worker

worker = Worker()


# An example of your own handler; uncomment it and pick a type name of your application.
#
# from typing import Any
# from taskmanager.worker import PermanentError, Retry, TaskContext
#
# @worker.handler("myapp.report.generate")
# def generate_report(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
#     if "month" not in params:
#         raise PermanentError("params.month is required")  # fails for good, no retry
#     ctx.progress(10, "collecting data")
#     try:
#         rows = collect(params["month"])
#     except TimeoutError:
#         raise Retry("the data source timed out", delay_seconds=30) from None
#     ctx.progress(90, "writing")
#     return {"rows": len(rows)}

if __name__ == "__main__":
    worker.main(prog_name="worker.py")
