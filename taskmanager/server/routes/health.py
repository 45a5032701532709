"""Liveness with a database check, and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from taskmanager import __version__
from taskmanager.errors import Unavailable
from taskmanager.models import Health, Identity
from taskmanager.server.auth import Reader
from taskmanager.server.deps import StoreDep

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database is unreachable"}},
)
async def health(store: StoreDep) -> Health | JSONResponse:
    """Whether the API and its database answer."""
    try:
        await run_in_threadpool(store.ping)
    except Unavailable:
        body = Health(status="unavailable", database="unavailable", version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", version=__version__)


@router.get("/identity", response_model=Identity, tags=["keys"])
def identity(caller: Reader) -> Identity:
    """The name and role of the key this request carries (anonymous admin without one)."""
    return Identity(name=caller.name, role=caller.role)
