"""deploy/: the units, compose file, manifests, supervisor and cron files run our commands."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskmanager.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCS = (ROOT / "docs" / "operations.md").read_text()
VENV_BIN = "/opt/taskmanager/.venv/bin/taskmanager"


def _is_our_command(argv: list[str]) -> bool:
    """`taskmanager <command> [options]` naming a command and options that exist."""
    assert Path(argv[0]).name == "taskmanager", argv
    command = main.commands.get(argv[1])
    assert command is not None, argv
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    flags = {arg.split("=", 1)[0] for arg in argv[2:] if arg.startswith("--")}
    assert flags <= known, flags - known
    return True


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name)
    return parser


@pytest.mark.parametrize("name", ["taskmanager-api.service", "taskmanager-worker@.service"])
def test_systemd_units_run_our_commands(name: str) -> None:
    unit = _unit(name)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    assert unit["Service"]["EnvironmentFile"] == "/etc/taskmanager/taskmanager.env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert _is_our_command(shlex.split(unit["Service"]["ExecStart"]))
    if "@" in name:
        assert "%i" in unit["Service"]["Environment"]


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is not installed (Debian's systemd package)"
    real = shutil.which("taskmanager") or str(ROOT / ".venv" / "bin" / "taskmanager")
    names = []
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text().replace(VENV_BIN, real)
        name = unit.name.replace("@.service", "@01.service")
        (tmp_path / name).write_text(text)
        names.append(str(tmp_path / name))
    done = subprocess.run(
        [analyze, "verify", *names], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    return loaded


def test_compose_runs_api_postgres_and_a_scalable_worker() -> None:
    services = _compose()["services"]
    assert set(services) == {"api", "postgres", "worker"}
    api, worker = services["api"], services["worker"]
    assert api["ports"] == ["8000:8000"]
    assert api["environment"]["TASKMANAGER_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in api["environment"]["TASKMANAGER_DATABASE_URL"]
    assert "/api/health" in " ".join(api["healthcheck"]["test"])
    assert _is_our_command(api["command"]) and _is_our_command(worker["command"])
    # `--scale worker=5` needs no fixed name and no published port.
    assert "container_name" not in worker and "ports" not in worker
    assert worker["environment"]["TASKMANAGER_API_URL"] == "http://api:8000/api"
    assert worker["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:")


def _manifests() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_kubernetes_manifests() -> None:
    docs = _manifests()
    assert set(docs) == {
        ("Deployment", "taskmanager-api"),
        ("Service", "taskmanager-api"),
        ("Deployment", "taskmanager-worker"),
        ("Secret", "taskmanager"),
    }
    secret_keys = set(docs[("Secret", "taskmanager")]["stringData"])
    api = docs[("Deployment", "taskmanager-api")]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["path"] == "/api/health"
        assert api[probe]["httpGet"]["port"] == "http"
    assert api["ports"] == [{"name": "http", "containerPort": 8000}]
    service = docs[("Service", "taskmanager-api")]["spec"]
    assert service["ports"][0]["targetPort"] == "http"
    assert (
        service["selector"]
        == docs[("Deployment", "taskmanager-api")]["spec"]["selector"]["matchLabels"]
    )
    worker = docs[("Deployment", "taskmanager-worker")]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in worker["env"]}
    assert env["TASKMANAGER_API_URL"]["value"] == "http://taskmanager-api/api"
    for container in (api, worker):
        assert _is_our_command(container["command"])
        for item in container["env"]:
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == "taskmanager" and ref["key"] in secret_keys


def test_dockerfile_commands_are_the_documented_ones() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd is not None
    argv = yaml.safe_load(cmd.group(1))
    assert argv == ["taskmanager", "serve"] and _is_our_command(argv)
    assert "EXPOSE 8000" in text and "/api/health" in text
    assert "docker build -f deploy/docker/Dockerfile -t taskmanager ." in DOCS
    assert "taskmanager taskmanager worker" in DOCS  # the worker: same image, other command
    assert "--scale worker=5" in DOCS


def test_supervisor_and_cron_run_our_commands() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(DEPLOY / "supervisor" / "taskmanager.conf")
    assert {"program:taskmanager-api", "program:taskmanager-worker"} <= set(parser.sections())
    for section in ("program:taskmanager-api", "program:taskmanager-worker"):
        assert _is_our_command(shlex.split(parser[section]["command"]))
    assert int(parser["program:taskmanager-worker"]["numprocs"]) > 1
    jobs = [
        line
        for line in (DEPLOY / "cron" / "taskmanager.cron").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    commands = [shlex.split(line)[6:] for line in jobs]
    argvs = [argv[argv.index(VENV_BIN) :] for argv in commands]
    argvs = [argv[: argv.index(">>")] for argv in argvs]
    assert any("--max-runs" in argv for argv in argvs)
    assert all(_is_our_command(argv) for argv in argvs)
