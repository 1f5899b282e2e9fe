"""The package as a server gets it: ``python -m build``, the wheel installed in a fresh
virtualenv, its console script run from an empty folder.

The wheel is built through its sdist (what ``python -m build`` does), from a copy of the
sources, so a file the sdist or the wheel forgets is missing here as it would be on a
server. The fresh virtualenv gets the wheel and nothing else of the project: its
dependencies come from the project's virtualenv by one path line (its site-packages
as a plain folder, so the project's editable install, a ``.pth`` file there, is not
read), and the test checks that the bot's modules load from the new virtualenv.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "commands", "audit", "migrations")
SOURCES = (*PACKAGES, "pyproject.toml", "README.md")
BUILD_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    (found,) = dist.glob("migrate_bot-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel in it; its ``bin`` folder."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--no-index", str(wheel)], check=True, timeout=120)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return home / "bin"


def test_the_wheel_holds_every_file_of_the_packages(wheel: Path) -> None:
    """Migrations, the state schema's history, the sandbox's page: package data included."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def test_the_installed_console_script_answers_and_serves_the_sandbox(
    installed: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MIGRATE_BOT_"))}
    env.pop("PORT", None)
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot, migrations; print(bot.__file__)"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(installed.parent)), where.stdout  # not the checkout
    script = str(installed / "migrate-bot")
    version = subprocess.run(
        [script, "--version"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "migrate-bot, version 0.1.0"

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    command = [script, "serve", "--mode", "sandbox", "--port", str(port), "--demo-rows", "100"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        health = wait_for(lambda: _health(port), timeout=180, what="the sandbox's /health")
        assert health["status"] == "ok" and health["mode"] == "sandbox"
        assert health["targets"] == ["demo", "tenants"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert "stopping the sandbox" in output, output
    assert (tmp_path / "var" / "migrate-bot.sqlite3").is_file()  # its state is where it ran


def _health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None  # not listening yet, or 503 while the demo database is reset
