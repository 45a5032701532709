"""The PHP worker's deployment files name options and settings that the worker accepts."""

from __future__ import annotations

import configparser
import re
import shlex

import pytest

from tests.php.conftest import PHP, PHP_DIR, WORKER_ENV, run_php

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (.ci/run installs it)")

DEPLOY = PHP_DIR / "deploy"


def worker_args(command: str) -> list[str]:
    words = shlex.split(command)
    return words[words.index(next(w for w in words if w.endswith("worker.php"))) + 1 :]


def accepted(args: list[str]) -> bool:
    """True when worker.php knows every option (`--help` stops after reading the flags)."""
    return run_php("worker.php", *args, "--help", timeout=30).returncode == 0


def test_systemd_template_runs_worker_php_with_known_settings() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "taskmanager-php-worker@.service")
    service = unit["Service"]
    assert accepted(worker_args(service["ExecStart"]))
    names = re.findall(r"(\w+)=", service["Environment"])
    assert names and set(names) <= set(WORKER_ENV)
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == "2"


def test_supervisor_program_runs_worker_php_with_known_settings() -> None:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(DEPLOY / "supervisor" / "taskmanager-php-worker.conf")
    program = conf["program:taskmanager-php-worker"]
    assert accepted(worker_args(program["command"]))
    assert set(re.findall(r"(\w+)=", program["environment"])) <= set(WORKER_ENV)
    assert program["stopsignal"] == "TERM"


def test_cron_line_runs_worker_php_with_known_options() -> None:
    lines = (DEPLOY / "cron" / "taskmanager-php-worker.cron").read_text().splitlines()
    (entry,) = [line for line in lines if line.strip() and not line.startswith("#")]
    command = entry.split(None, 5)[5]
    args = worker_args(command.split(">>")[0])
    assert "--max-runs=50" in args
    assert accepted(args)
