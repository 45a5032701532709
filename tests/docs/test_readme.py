"""The README: its curl walk-through works as written, and every setting is documented."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from taskmanager.server.settings import Settings
from tests.conftest import LiveServer

README = Path(__file__).resolve().parents[2] / "README.md"


def _walkthrough() -> str:
    text = README.read_text()
    section = text.split("## Walk-through with curl", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "the walk-through has a bash block"
    return match.group(1)


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:400]
    assert "make run" in head
    assert "make test" in head


def test_curl_walkthrough_runs_verbatim(live_server: LiveServer) -> None:
    script = _walkthrough().replace("http://127.0.0.1:8000", live_server.url)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    documents = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    created, claimed, completed, fetched, stats = documents
    assert created["status"] == "pending"
    assert claimed["id"] == created["id"] and claimed["lease_token"]
    assert completed["status"] == "completed"
    assert fetched["result"] == {"echo": "Hello, World!"}
    assert stats["totals"]["completed"] == 1


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [
        name for name in Settings.model_fields if f"`TASKMANAGER_{name.upper()}`" not in text
    ]
    assert missing == []
