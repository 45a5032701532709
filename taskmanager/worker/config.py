"""Worker configuration: flags over environment over a KEY=VALUE file over defaults."""

from __future__ import annotations

import os
import secrets
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from taskmanager.worker.handlers import TYPE_PATTERN

DEFAULT_API_URL = "http://localhost:8000/api"
MAX_TASK_TYPES = 100
MAX_CONCURRENCY = 100
MAX_POLL_INTERVAL = 3600.0


class ConfigError(Exception):
    """Invalid configuration: the message says which option, from where, and why."""


def default_worker_id() -> str:
    """Host name, process id and a random suffix: unique per process."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs to know to run; see `OPTIONS` for the defaults."""

    api_url: str = DEFAULT_API_URL
    worker_id: str = field(default_factory=default_worker_id)
    task_types: tuple[str, ...] | None = None
    poll_interval: float = 10.0
    max_runs: int = 0
    concurrency: int = 1
    api_key: str | None = None
    debug: bool = False
    max_consecutive_errors: int = 5
    log_format: str = "text"
    ca_bundle: str | None = None

    def with_values(self, **values: Any) -> WorkerConfig:
        return replace(self, **values)


# -- parsers: text in, value out, ValueError with a reason for people ------------------------------


def _url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL, e.g. http://localhost:8000/api")
    return text.strip().rstrip("/")


def _worker_id(text: str) -> str:
    value = text.strip()
    if not 1 <= len(value) <= 200 or not value.isprintable():
        raise ValueError("must be 1 to 200 printable characters")
    return value


def _task_types(text: str) -> tuple[str, ...] | None:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    bad = [name for name in names if not TYPE_PATTERN.match(name)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a task type (letters, digits and _.:- only)")
    if len(names) > MAX_TASK_TYPES:
        raise ValueError(f"at most {MAX_TASK_TYPES} task types")
    return names or None


def _number(low: float, high: float, *, integer: bool) -> Callable[[str], Any]:
    kind = "a whole number" if integer else "a number"

    def parse(text: str) -> Any:
        try:
            value = int(text.strip()) if integer else float(text.strip())
        except ValueError:
            raise ValueError(f"must be {kind}, got {text!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be {kind} from {low:g} to {high:g}, got {text.strip()}")
        return value

    return parse


def _positive_seconds(text: str) -> float:
    value = float(_number(0, MAX_POLL_INTERVAL, integer=False)(text))
    if value <= 0:
        raise ValueError(f"must be more than 0 seconds (at most {MAX_POLL_INTERVAL:g})")
    return value


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _text(text: str) -> str:
    return text.strip()


def _ca_bundle(text: str) -> str:
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {text.strip()!r} (a PEM file of trusted certificates)")
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{text.strip()!r} holds no certificate in PEM form ({exc})") from None
    return str(path)


def _log_format(text: str) -> str:
    word = text.strip().lower()
    if word not in ("text", "json"):
        raise ValueError(f"must be text or json, got {text!r}")
    return word


@dataclass(frozen=True)
class Option:
    """One setting: its field, flag, environment variable, default as shown, and parser."""

    field: str
    env: str
    default: str
    help: str
    parse: Callable[[str], Any]

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("api_url", "TASKMANAGER_API_URL", DEFAULT_API_URL, "API base URL.", _url),
    Option(
        "worker_id",
        "WORKER_ID",
        "host name, process id and a random suffix",
        "Name of this worker.",
        _worker_id,
    ),
    Option(
        "task_types",
        "TASK_TYPES",
        "every type with a handler",
        "Comma-separated task types to claim.",
        _task_types,
    ),
    Option(
        "poll_interval",
        "POLL_INTERVAL",
        "10",
        "Seconds a claim waits (long poll, at most 30 per request) when no task is available.",
        _positive_seconds,
    ),
    Option(
        "max_runs",
        "MAX_RUNS",
        "0",
        "Stop after this many tasks; 0 means never.",
        _number(0, 10**9, integer=True),
    ),
    Option(
        "concurrency",
        "CONCURRENCY",
        "1",
        "Tasks run at the same time.",
        _number(1, MAX_CONCURRENCY, integer=True),
    ),
    Option("api_key", "TASKMANAGER_API_KEY", "none", "API key sent as a bearer token.", _text),
    Option("debug", "DEBUG", "false", "Log debug details, including every HTTP call.", _boolean),
    Option(
        "max_consecutive_errors",
        "MAX_CONSECUTIVE_ERRORS",
        "5",
        "Exit with status 1 after this many API errors in a row.",
        _number(1, 10**6, integer=True),
    ),
    Option("log_format", "LOG_FORMAT", "text", "Log lines as text or json.", _log_format),
    Option(
        "ca_bundle",
        "TASKMANAGER_CA_BUNDLE",
        "the system's trusted certificates",
        "PEM file of certificate authorities to trust for an https:// API URL.",
        _ca_bundle,
    ),
)
BY_ENV = {option.env: option for option in OPTIONS}


# -- sources ---------------------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of a config file (`#` comments, blank lines, optional quotes)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        entry = _entry(line)
        if entry is None:
            continue
        key, value = entry
        if not key or key not in BY_ENV:
            where = f"{path}:{number}"
            known = ", ".join(BY_ENV)
            raise ConfigError(f"{where}: unknown setting {key or line.strip()!r} (known: {known})")
        values[key] = value
    return values


def _entry(line: str) -> tuple[str, str] | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    text = text.removeprefix("export ").strip()
    key, sep, value = text.partition("=")
    if not sep:
        return (text, "") if text else None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key.strip(), value


def load_config(
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    config_file: Path | None = None,
) -> WorkerConfig:
    """Merge the sources, each option from the first that sets it; ConfigError when invalid."""
    from_file = read_config_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for option in OPTIONS:
        source, raw = _pick(option, flags, environ, from_file, config_file)
        if raw is None:
            continue
        try:
            values[option.field] = raw if isinstance(raw, bool) else option.parse(str(raw))
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))
    return WorkerConfig(**values)


def _pick(
    option: Option,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    from_file: Mapping[str, str],
    config_file: Path | None,
) -> tuple[str, Any]:
    flag = flags.get(option.field)
    if flag is not None:
        return option.flag, flag
    if environ.get(option.env, "").strip():
        return f"{option.env} (environment)", environ[option.env]
    if from_file.get(option.env, "").strip():
        return f"{option.env} (in {config_file})", from_file[option.env]
    return "", None
