"""The systemd units of docs/deployment.md run commands the CLI has, the ones the
Procfile and the manifest name, and systemd itself finds nothing wrong in them."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli_lines import assert_valid_command

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "docs" / "systemd"
INSTALLED = "/opt/migrate-bot/bin/migrate-bot"  # where docs/deployment.md installs the wheel


def service(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(UNITS / name)
    return parser["Service"]


def command(name: str) -> list[str]:
    line = service(name)["ExecStart"]
    assert line.startswith(INSTALLED + " "), line
    return assert_valid_command(line.replace(INSTALLED, "migrate-bot", 1))


def test_one_machine_runs_the_procfile_s_default_process() -> None:
    procfile = (ROOT / "Procfile").read_text()
    assert f"socket: {' '.join(command('migrate-bot.service'))}\n" in procfile


def test_a_shared_deployment_has_fronts_and_a_worker_per_queue() -> None:
    assert command("migrate-bot-front.service")[1:] == ["serve", "--mode", "socket"]
    assert command("migrate-bot-worker@.service")[1:] == ["worker", "--queue", "%i"]


def test_every_unit_keeps_its_secrets_in_a_file_and_stops_gently() -> None:
    for unit in sorted(UNITS.glob("*.service")):
        settings = service(unit.name)
        assert settings["EnvironmentFile"] == "/etc/migrate-bot/env", unit.name
        assert int(settings["TimeoutStopSec"]) >= 30, unit.name  # runs abort at a boundary
        assert settings["User"] == "migrate-bot", unit.name


def test_deployment_md_names_every_unit_and_only_those() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    named = set(re.findall(r"docs/systemd/([\w@.-]+\.service)", guide))
    assert named == {unit.name for unit in UNITS.glob("*.service")}


def test_systemd_analyze_finds_nothing_wrong(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    script = str(Path(sys.executable).with_name("migrate-bot"))
    for unit in UNITS.glob("*.service"):
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, script))
    (tmp_path / "migrate-bot-worker@default.service").symlink_to("migrate-bot-worker@.service")
    names = [
        "migrate-bot.service",
        "migrate-bot-front.service",
        "migrate-bot-worker@default.service",
    ]
    found = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0 and not found.stderr.strip(), found.stderr
