"""Server logs as text or as one JSON object per line, uvicorn's access log included."""

from __future__ import annotations

import logging
from typing import Any

from taskmanager.worker.logs import JsonFormatter

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_TEXT_ACCESS = {
    "()": "uvicorn.logging.AccessFormatter",
    "fmt": '%(levelname)s access: %(client_addr)s "%(request_line)s" %(status_code)s',
    "use_colors": False,
}

# uvicorn's access records carry (client, method, path, http version, status) as arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class ServerJsonFormatter(JsonFormatter):
    """JSON lines, without the terminal colours uvicorn attaches to some records."""

    def format(self, record: logging.LogRecord) -> str:
        record.__dict__.pop("color_message", None)
        return super().format(record)


class AccessJsonFormatter(ServerJsonFormatter):
    """An access log line as JSON, with the request's parts as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == len(_ACCESS_FIELDS):
            for name, value in zip(_ACCESS_FIELDS, args, strict=True):
                setattr(record, name, value)
        return super().format(record)


def uvicorn_log_config(log_format: str, level: str) -> dict[str, Any]:
    """A logging configuration for uvicorn and our own loggers, in the chosen format."""
    json_lines = log_format == "json"
    formatters: dict[str, Any] = {
        "default": {"()": ServerJsonFormatter} if json_lines else {"format": TEXT_FORMAT},
        "access": {"()": AccessJsonFormatter} if json_lines else _TEXT_ACCESS,
    }
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": {**handler, "formatter": "default"},
            "access": {**handler, "formatter": "access"},
        },
        "loggers": {
            "": {"handlers": ["default"], "level": level.upper()},
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["access"], "level": level.upper(), "propagate": False},
        },
    }


def configure(log_format: str, level: str) -> None:
    """Set up the root logger (for app processes uvicorn did not configure)."""
    import logging.config

    logging.config.dictConfig(uvicorn_log_config(log_format, level))
