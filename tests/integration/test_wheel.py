"""
sosw as a user gets it: an sdist built from a copy of the sources, a wheel built from that sdist, installed into a
fresh virtual environment and run in an empty folder outside the checkout, with no AWS variable set.

Offline: the wheel is built without build isolation (setuptools and wheel of the project's venv), and the fresh
venv finds sosw's dependencies (boto3, moto, pytest) through a ``.pth`` line naming the project venv's
site-packages, which comes after its own: ``import sosw`` is the wheel's. The editable install of the project venv
is a ``.pth`` file there, which a path line does not run, so the checkout stays out of reach.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from sosw import __version__
from tests.conftest import ROOT

SOURCES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.rst", "LICENSE", "sosw", "examples")


class Installed:
    """The fresh venv with the wheel, and a way to run its ``sosw`` in a clean environment."""

    def __init__(self, root: Path, wheel: Path, sdist: Path):
        self.root, self.wheel, self.sdist = root, wheel, sdist
        self.python = root / "venv" / "bin" / "python"
        self.sosw = root / "venv" / "bin" / "sosw"
        self.env = {name: value for name, value in os.environ.items()
                    if not name.startswith("AWS_") and name not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env["HOME"] = str(root / "home")

    def run(self, *argv: object, cwd: Path, timeout: float = 120,
            env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
        return done


def _copy_sources(target: Path) -> None:
    target.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    (root / "home").mkdir()
    _copy_sources(root / "src")
    dist = root / "dist"
    python = sys.executable
    subprocess.run([python, "setup.py", "-q", "sdist", "-d", str(dist)], cwd=root / "src", check=True,
                   capture_output=True)
    [sdist] = dist.glob("sosw-*.tar.gz")
    subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(sdist)], cwd=root, check=True, capture_output=True)
    [wheel] = dist.glob("sosw-*.whl")

    subprocess.run([python, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    installed = Installed(root, wheel, sdist)
    subprocess.run([python, "-m", "pip", "--python", str(installed.python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    purelib = subprocess.run([str(installed.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (root / "empty").mkdir()
    return installed


def test_the_wheel_and_the_sdist_carry_the_examples_once(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    examples = {n[len("sosw/_examples/"):] for n in names if n.startswith("sosw/_examples/")}
    expected = {p.relative_to(ROOT / "examples").as_posix() for p in (ROOT / "examples").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    assert examples == expected
    assert {"essentials/.config/sosw_essential_config.json", "essentials/sosw_scheduler/app.py",
            "workers/sosw_tutorial_pull_tweeter_hashtags/config/task.json"} <= examples
    assert "sosw/_templates/worker/__worker-name__.yaml" in names and "sosw/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "examples/"))]
    with tarfile.open(installed.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"examples/essentials/.config/sosw_scheduler_config.json", "sosw/_templates/worker/app.py",
            "MANIFEST.in"} <= members


def test_version(installed):
    done = installed.run(installed.sosw, "--version", cwd=installed.root / "empty")
    assert done.stdout.startswith(f"sosw {__version__} (boto3 ")


def test_demo_from_the_wheel_closes_all_36_tasks(installed):
    started = time.monotonic()
    done = installed.run(installed.sosw, "demo", "--tick", "0.5", "--json", cwd=installed.root / "empty", timeout=240)
    outcome = json.loads(done.stdout)
    assert outcome["status"]["sosw_tutorial_pull_tweeter_hashtags"]["closed"] == 36
    assert outcome["scheduled"]["tasks_created"] == 36
    assert time.monotonic() - started < 150
    assert not list((installed.root / "empty").iterdir())  # it wrote nothing where it ran


def test_a_scaffolded_worker_passes_its_own_tests(installed):
    installed.run(installed.sosw, "init", "demo_worker", cwd=installed.root / "empty")
    project = installed.root / "empty" / "demo_worker"
    done = installed.run(installed.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project, timeout=180)
    assert "4 passed" in done.stdout


def test_local_up_then_deploy_config_upload_and_schedule_from_another_shell(installed):
    work = installed.root / "shell"
    work.mkdir()
    installed.run(installed.sosw, "init", "shell_worker", cwd=work)
    up = subprocess.Popen([str(installed.sosw), "local", "up", "--tick", "0.5", "--json"], cwd=installed.root,
                          env=installed.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = up.stdout.readline()
        assert line, up.stderr.read()
        exports = json.loads(line)["environment"]
        steps: List[List[str]] = [["deploy", "--worker", "shell_worker"], ["config", "upload", "shell_worker"],
                                  ["schedule", "shell_worker", "shell_worker/config/task.json"]]
        for step in steps:
            installed.run(installed.sosw, *step, cwd=work, env=exports, timeout=180)
        deadline = time.monotonic() + 60
        while True:
            status = json.loads(installed.run(installed.sosw, "status", "--json", cwd=work, env=exports).stdout)
            if status.get("shell_worker", {}).get("closed") == 3 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status["shell_worker"] == {"queued": 0, "running": 0, "expired": 0, "retrying": 0, "completed": 0,
                                          "closed": 3, "dead": 0}
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=30)
