"""The dashboard: server-rendered page shells; the browser fills them from the JSON API.

The pages hold no data, so they need no key: the script sends the key saved in the browser
with every API call.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from taskmanager import __version__
from taskmanager.models import TaskId
from taskmanager.status import TaskStatus

HERE = Path(__file__).resolve().parent.parent / "dashboard"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, page: str, **context: object) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    values = {
        "page": page,
        "root": root,
        "api": f"{root}/api",
        "static": f"{root}/static",
        "version": __version__,
        "statuses": [status.value for status in TaskStatus],
        **context,
    }
    return templates.TemplateResponse(request, template, values)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    """Queue overview, failures first, and the last hour's charts."""
    return _page(request, "overview.html", "overview")


@router.get("/tasks", response_class=HTMLResponse)
def task_list(request: Request) -> HTMLResponse:
    """Tasks with filters and paging."""
    return _page(request, "tasks.html", "tasks")


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: TaskId) -> HTMLResponse:
    """One task: fields, params, result, error, history; cancel and retry."""
    return _page(request, "task.html", "task", task_id=task_id)


@router.get("/workers", response_class=HTMLResponse)
def worker_list(request: Request) -> HTMLResponse:
    """Workers, when each was last seen, and what each holds now."""
    return _page(request, "workers.html", "workers")


def mount(app: FastAPI) -> None:
    """Serve the pages and their script and style sheet."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
