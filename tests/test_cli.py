"""The CLI end to end on a real PostgreSQL: output, JSON, exit codes, no secrets."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import cli, main
from commands.config.targets_file import BUNDLED_MIGRATIONS
from commands.errors import ExitCode
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import Rev, write_project

README = Path(__file__).parent.parent / "README.md"
CLI_REFERENCE = README.parent / "docs" / "cli.md"
SLACK_REFERENCE = README.parent / "docs" / "slack.md"
CLI_TABLE = re.compile(r"^\| `migrate-bot ([a-z-]+)", re.M)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("config_file")
def test_upgrade_status_downgrade_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "upgrade", "app", "--yes")
    assert code == ExitCode.OK
    steps = re.findall(r"^\[(\d+)/(\d+)\] (\w+) .* done in [\d.]+ m?s$", out, re.M)
    assert len(steps) >= 6 and steps[-1][0] == steps[-1][1]
    # the pre-flight's lint findings, as the request in Slack shows them
    assert re.search(r"^  (PASS|WARN)  lint +(\d+ warn, )?\d+ note", out, re.M)
    assert re.search(r"note  \w+ #1: CREATE INDEX without CONCURRENTLY on segments", out)

    code, out, _ = run(capsys, "status", "app", "--json")
    status = json.loads(out)
    assert code == ExitCode.OK
    assert status["current"] == status["heads"] and status["at_head"] is True
    assert status["pending"] == []

    code, out, _ = run(capsys, "downgrade", "app", "-1", "--yes", "--json")
    report = json.loads(out)
    assert [s["revision"] for s in report["steps"]] == status["current"]
    assert all(s["duration_s"] > 0 for s in report["steps"])

    code, out, _ = run(capsys, "downgrade", "app", "base", "--yes")
    assert code == ExitCode.OK and "is at base (no revision applied)" in out
    _, out, _ = run(capsys, "status", "app", "--json")
    assert json.loads(out)["current"] == []


@pytest.mark.usefixtures("config_file")
def test_plan_lists_each_pending_revision_with_its_sql(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "app", "--json")
    plan = json.loads(out)
    assert code == ExitCode.OK and plan["from"] == [] and len(plan["revisions"]) >= 6
    first, risky = plan["revisions"][0], plan["revisions"][-2]  # the last drops a column
    assert "CREATE TABLE IF NOT EXISTS jobs" in first["sql"]
    assert "CREATE INDEX idx_segments_video_start" in risky["sql"]
    assert "CREATE TABLE IF NOT EXISTS jobs" not in risky["sql"]
    findings = plan["lint"]["data"]["findings"]
    risky_findings = [f["sentence"] for f in findings if f["revision"] == risky["revision"]]
    assert any("CONCURRENTLY" in sentence for sentence in risky_findings)

    code, out, _ = run(capsys, "plan", "app")
    assert code == ExitCode.OK
    assert re.search(r"^Lint:\n  (PASS|WARN)  lint ", out, re.M)
    assert "CREATE INDEX without CONCURRENTLY on segments" in out

    code, out, _ = run(capsys, "plan", "app", "--to", first["revision"][:6])
    assert code == ExitCode.OK
    assert "1 revision(s)" in out and "| CREATE TABLE IF NOT EXISTS jobs" in out


@pytest.mark.usefixtures("config_file")
def test_refusals_change_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "upgrade", "app")  # no --yes, no terminal to ask on
    assert code == ExitCode.BAD_INPUT and "--yes" in err
    code, _, err = run(capsys, "upgrade", "app", "--to", "nope", "--yes")
    assert code == ExitCode.BAD_INPUT and "no revision 'nope'" in err
    code, _, err = run(capsys, "status", "prod")
    assert code == ExitCode.BAD_INPUT and "unknown target 'prod' (targets: app)" in err
    _, out, _ = run(capsys, "status", "app", "--json")
    assert json.loads(out)["current"] == []


def test_broken_config_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[targets.app]\ndatabase_url_env = "X"\n'
        'script_location = "/nowhere"\napprovers = ["U0BOB"]\n'
    )
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(path))
    code, _, err = run(capsys, "targets")
    assert code == ExitCode.BAD_INPUT
    assert f"{path}: targets.app.script_location: /nowhere does not exist" in err


def test_a_password_never_reaches_the_output(
    capsys: pytest.CaptureFixture[str],
    config_file: Path,
    fresh_db: DatabaseUrl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "Pw-" + "x7Q9" * 3
    with_password = dataclasses.replace(fresh_db, password=secret).text()
    monkeypatch.setenv("APP_DATABASE_URL", with_password)
    outputs = [
        run(capsys, "status", "app"),
        run(capsys, "plan", "app", "--json"),
        run(capsys, "-v", "upgrade", "app", "--yes"),
    ]
    wrong_db = dataclasses.replace(fresh_db.with_database("missing_db"), password=secret)
    monkeypatch.setenv("APP_DATABASE_URL", wrong_db.text())
    failed = run(capsys, "status", "app")
    assert failed[0] == ExitCode.UNAVAILABLE and "missing_db" in failed[2]
    for _code, out, err in [*outputs, failed]:
        assert secret not in out and secret not in err
    assert [o[0] for o in outputs] == [ExitCode.OK] * 3, outputs


def test_console_script_is_installed_and_lists_its_commands() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("migrate-bot")), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    commands = cli.every_command()
    for name, command in commands.items():
        assert command.name == name and name in result.stdout


def test_the_cli_reference_documents_every_command_and_the_readme_leads_there() -> None:
    """Every command has a row of its own in docs/cli.md's table (and nothing else does);
    the README sends a newcomer there."""
    rows = CLI_TABLE.findall(CLI_REFERENCE.read_text())
    names = set(cli.every_command())
    assert set(rows) == names, f"docs/cli.md's table: {sorted(set(rows) ^ names)}"
    assert "[docs/cli.md](docs/cli.md)" in README.read_text()


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    code, out, _ = run(capsys, "--version")
    assert code == ExitCode.OK and out.strip() == f"migrate-bot, version {version('migrate-bot')}"


def test_targets_says_when_the_url_variable_is_unset(
    capsys: pytest.CaptureFixture[str], config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out, _ = run(capsys, "targets")
    assert "$APP_DATABASE_URL\n" in out and "not set" not in out
    monkeypatch.delenv("APP_DATABASE_URL")
    code, out, _ = run(capsys, "targets")
    assert code == ExitCode.OK
    assert "$APP_DATABASE_URL  (not set in this environment" in out
    _, out, _ = run(capsys, "targets", "--json")
    assert json.loads(out)[0]["database_url_set"] is False


SLACK_TABLE = re.compile(r"^\| `/migrate [^\n]*$", re.M)


def test_the_slack_reference_documents_every_slash_verb() -> None:
    """Every verb of the /migrate grammar is in docs/slack.md's command table."""
    from commands.slash.grammar import Verb

    table = "\n".join(SLACK_TABLE.findall(SLACK_REFERENCE.read_text()))
    missing = [v.value for v in Verb if not re.search(rf"`(/migrate )?{v.value}\b", table)]
    assert not missing, f"docs/slack.md's Slack table lacks: {missing}"


def test_make_run_passes_port_and_args_to_serve() -> None:
    root = README.parent
    dry = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-o",
            ".venv/.installed",
            "run",
            "PORT=8080",
            "ARGS=--demo-rows 100000",
        ],
        cwd=root,
        env={k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}},
        capture_output=True,
        text=True,
        check=True,
    )
    assert dry.stdout.split()[-5:] == ["serve", "--port", "8080", "--demo-rows", "100000"]
    readme = README.read_text()
    assert "make run PORT=" in readme and 'make run ARGS="--demo-rows 100000"' in readme


def test_a_break_glass_run_the_pipeline_refuses_ends_refused(
    capsys: pytest.CaptureFixture[str], config_file: Path, fresh_db: DatabaseUrl
) -> None:
    from commands.pipeline.run_lock import run_lock

    with run_lock(fresh_db, label="M-77 upgrade by a laptop"):
        code, _, err = run(capsys, "upgrade", "app", "--yes", "--reason", "INC-9")
    assert code == ExitCode.REFUSED and "M-77 upgrade by a laptop" in err
    code, out, _ = run(capsys, "requests", "--json")
    [request] = json.loads(out)
    assert request["state"] == "refused"  # not left approved with nothing to run it
    code, out, _ = run(capsys, "audit", "--json")
    kinds = [event["kind"] for event in json.loads(out)]
    assert "run_refused" in kinds


def test_status_without_a_target_lists_every_target_and_says_which_cannot_be_read(
    capsys: pytest.CaptureFixture[str], config_file: Path
) -> None:
    """As Slack's `/migrate status` does: every target, one unreadable not stopping the rest."""
    other = (
        "\n[targets.other]\n"
        'database_url_env = "OTHER_DATABASE_URL"\n'
        f'script_location = "{BUNDLED_MIGRATIONS.as_posix()}"\n'
        'approvers = ["U0BOB"]\n'
    )
    config_file.write_text(config_file.read_text() + other)
    code, out, _ = run(capsys, "status")
    assert code == ExitCode.UNAVAILABLE
    first, second = out.strip().split("\n\n")
    assert first.startswith("app: postgresql://") and "pending: 8 revision(s)" in first
    assert second == (
        "other: cannot be read: $OTHER_DATABASE_URL: targets.other.database_url_env: is not set"
        " in the environment"
    )
    code, out, _ = run(capsys, "status", "--json")
    shown = json.loads(out)
    assert [s["target"] for s in shown] == ["app", "other"] and "error" in shown[1]


def test_a_run_refused_at_pre_flight_prints_its_findings_once(
    capsys: pytest.CaptureFixture[str], config_file: Path, tmp_path: Path
) -> None:
    """The pre-flight's failed update and the run's own end (also at pre-flight) each
    printed the findings: octavia's refused downgrade showed them twice."""
    one_way = 'def upgrade() -> None:\n    op.execute("CREATE TABLE one_way (id int)")\n'
    project = write_project(tmp_path / "one_way", [Rev(id="a1", message="One way", body=one_way)])
    config_file.write_text(
        config_file.read_text().replace(BUNDLED_MIGRATIONS.as_posix(), project.as_posix())
    )
    assert run(capsys, "upgrade", "app", "--yes", "--reason", "INC-1")[0] == 0
    code, out, err = run(capsys, "downgrade", "app", "base", "--yes", "--reason", "INC-1")
    assert code != 0 and "Failed at preflight" in out + err
    said = out + err
    assert said.count("a1: no downgrade(): undoing it fails here") == 1, said
