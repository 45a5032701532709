"""deploy/: the units, compose file, manifests, supervisor and cron files run our commands."""

from __future__ import annotations

import configparser
import re
import secrets
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from taskmanager.cli import main
from taskmanager.server.app import create_app
from taskmanager.server.auth import is_loopback
from taskmanager.server.settings import Settings
from tests.security.conftest import bearer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCS = (ROOT / "docs" / "operations.md").read_text()
README = (ROOT / "README.md").read_text()
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


UNITS = ["taskmanager-api.service", "taskmanager-worker.service", "taskmanager-worker@.service"]


@pytest.mark.parametrize("name", UNITS)
def test_systemd_units_run_our_commands(name: str) -> None:
    unit = _unit(name)
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    assert unit["Service"]["EnvironmentFile"] == "/etc/taskmanager/taskmanager.env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert _is_our_command(shlex.split(unit["Service"]["ExecStart"]))
    if "@" in name:
        assert "%i" in unit["Service"]["Environment"]


def test_the_units_are_the_ones_the_systemd_commands_name() -> None:
    # `systemctl start taskmanager-worker` and `systemctl start taskmanager-worker@01` both work.
    assert sorted(path.name for path in (DEPLOY / "systemd").glob("*.service")) == sorted(UNITS)
    assert "systemctl enable --now taskmanager-worker`" in DOCS


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
    assert api["ports"] == ["127.0.0.1:8000:8000"]  # this host only, until a proxy is in front
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
        ("Deployment", "worker"),
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
    worker = docs[("Deployment", "worker")]["spec"]["template"]["spec"]["containers"][0]
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
    for docs in (DOCS, README):
        assert "docker build -f deploy/docker/Dockerfile -t taskmanager ." in docs
        assert "taskmanager taskmanager worker" in docs  # the worker: same image, other command
        assert "--scale worker=5" in docs


def test_supervisor_and_cron_run_our_commands() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(DEPLOY / "supervisor" / "taskmanager.conf")
    assert {"program:taskmanager-api", "program:taskmanager-worker"} <= set(parser.sections())
    for section in ("program:taskmanager-api", "program:taskmanager-worker"):
        assert _is_our_command(shlex.split(parser[section]["command"]))
    assert int(parser["program:taskmanager-worker"]["numprocs"]) > 1
    assert "TASKMANAGER_API_KEY=" in parser["program:taskmanager-worker"]["environment"]
    jobs = [
        line
        for line in (DEPLOY / "cron" / "taskmanager.cron").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    commands = [shlex.split(line)[6:] for line in jobs]
    argvs = [argv[argv.index(VENV_BIN) :] for argv in commands]
    argvs = [argv[: argv.index(">>")] for argv in argvs]
    assert any("--max-runs" in argv for argv in argvs)
    assert "TASKMANAGER_API_KEY=change-me" in (DEPLOY / "cron" / "taskmanager.cron").read_text()
    assert all(_is_our_command(argv) for argv in argvs)


# -- the API of each deployment starts with what the files give it, and its workers get in ---

SERVER_ENV = {"TASKMANAGER_" + name.upper() for name in Settings.model_fields}


def _secret() -> str:
    return "tm_" + secrets.token_urlsafe(32)


def _starts_and_lets_workers_in(
    env: dict[str, str], worker_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server these variables configure (on SQLite here) starts, and the key claims."""
    ours = {name: value for name, value in env.items() if name.startswith("TASKMANAGER_")}
    assert set(ours) <= SERVER_ENV, set(ours) - SERVER_ENV
    assert "TASKMANAGER_ALLOW_ANONYMOUS" not in ours
    assert not is_loopback(ours["TASKMANAGER_HOST"])
    for name, value in ours.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TASKMANAGER_DATABASE_URL", f"sqlite:///{tmp_path / 'deploy.db'}")
    with TestClient(create_app(Settings())) as api:  # refusing to start raises here
        assert api.get("/api/tasks").status_code == 401
        claim = api.post("/api/tasks/claim", json={"worker_id": "w"}, headers=bearer(worker_key))
        assert claim.status_code == 200


def _interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` (which must be set)."""

    def one(match: re.Match[str]) -> str:
        name, kind, default = match.group(1), match.group(2), match.group(3)
        if name in variables:
            return variables[name]
        assert kind == "-", f"{name} must be set"
        return default

    return re.sub(r"\$\{(\w+)(?::([-?])([^}]*))?\}", one, value)


def test_compose_api_starts_with_the_keys_of_its_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _compose()["services"]
    keys = {"TASKMANAGER_ADMIN_KEY": _secret(), "TASKMANAGER_WORKER_KEY": _secret()}
    api = {k: _interpolate(str(v), keys) for k, v in services["api"]["environment"].items()}
    worker = services["worker"]["environment"]
    # The worker key is required, not silently empty.
    with pytest.raises(AssertionError, match="must be set"):
        _interpolate(worker["TASKMANAGER_API_KEY"], {})
    worker_key = _interpolate(worker["TASKMANAGER_API_KEY"], keys)
    _starts_and_lets_workers_in(api, worker_key, tmp_path, monkeypatch)


def test_kubernetes_api_starts_with_the_keys_of_its_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _manifests()
    secret = {name: _secret() for name in docs[("Secret", "taskmanager")]["stringData"]}

    def env_of(deployment: str) -> dict[str, str]:
        container = docs[("Deployment", deployment)]["spec"]["template"]["spec"]["containers"][0]
        return {
            item["name"]: item["value"]
            if "value" in item
            else secret.get(item["valueFrom"].get("secretKeyRef", {}).get("key", ""), "")
            for item in container["env"]
        }

    worker_key = env_of("worker")["TASKMANAGER_API_KEY"]
    _starts_and_lets_workers_in(env_of("taskmanager-api"), worker_key, tmp_path, monkeypatch)
    assert "kubectl scale deployment worker --replicas=5" in DOCS
