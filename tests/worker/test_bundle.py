"""`make worker-bundle`: the Python worker as a directory that runs outside this checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.worker.conftest import ROOT, run_script

pytestmark = pytest.mark.slow


def test_the_bundle_installs_and_runs_from_a_copied_directory(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    made = subprocess.run(
        ["make", "--no-print-directory", "worker-bundle", f"WORKER_BUNDLE={bundle}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    opt = tmp_path / "opt" / "worker"  # as the guide deploys it: /opt/worker/worker.py
    shutil.copytree(bundle, opt)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    # The dependencies come from a package index as usual; here, offline, from this test's own
    # environment. Only taskmanager itself is installed, from the bundle's requirements.txt.
    code = "import site; print(site.getsitepackages()[0])"
    site = Path(subprocess.check_output([python, "-c", code], text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run_script(
        str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-r", "requirements.txt",
        env={}, cwd=opt,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr

    code = "import taskmanager; print(taskmanager.__file__)"
    where = run_script(str(python), "-c", code, env={}, cwd=tmp_path)
    helped = run_script(str(python), str(opt / "worker.py"), "--help", env={}, cwd=tmp_path)
    created = run_script(str(python), str(opt / "test_worker.py"), "--help", env={}, cwd=tmp_path)

    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    assert helped.returncode == 0, helped.stderr
    assert "--api-url" in helped.stdout and "TASKMANAGER_API_KEY" in helped.stdout
    assert created.returncode == 0 and "--num-tasks" in created.stdout
    assert sorted(p.name for p in opt.iterdir()) == [
        "requirements.txt",
        "test_worker.py",
        "wheels",
        "worker.conf.example",
        "worker.py",
    ]


def test_the_dockerfile_builds_from_the_repository_root() -> None:
    text = (ROOT / "workers" / "python" / "Dockerfile").read_text()
    assert "docker build -f workers/python/Dockerfile -t taskmanager-worker ." in text
    copies = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    sources = [source for sources in copies for source in sources]
    assert "workers/python/worker.py" in sources and "taskmanager" in sources
    assert all((ROOT / source).exists() for source in sources), sources
    assert 'CMD ["python", "worker.py"]' in text
