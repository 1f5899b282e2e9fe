"""Fleets from the terminal on a real PostgreSQL: status, a break-glass upgrade of every
member with its per-member lines and exit code, ``requests ID`` member by member, and the
members' variable checked with errors that name it and never a URL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from commands.errors import ExitCode
from commands.postgres.database_url import DatabaseUrl
from tests.support.fleet_support import MEMBERS_ENV, Fleet, fleet_here

SECRET = "s3cr3t-pw"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def fleet(
    pg_server: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    members = ("acme", "globex", "initech")
    with fleet_here(tmp_path, pg_server, members, monkeypatch, keys="concurrency = 2") as made:
        yield made


@pytest.fixture
def no_members(
    pg_server: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    """The fleet's targets file alone: its variable is the test's to set."""
    with fleet_here(tmp_path, pg_server, (), monkeypatch) as made:
        yield made


def test_upgrade_runs_every_member_and_exits_1_when_one_fails(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet.move("globex", "accounts")
    fleet.execute("initech", "CREATE TABLE invoices (x int)")

    code, out, _ = run(capsys, "status", "tenants")
    assert code == ExitCode.OK
    assert "at head: 0   behind: 3   unreachable: 0" in out
    assert "base (no revision applied)" in out and "accounts" in out

    code, out, err = run(capsys, "upgrade", "tenants", "--yes")
    assert code == ExitCode.FAILED
    assert (
        "(break-glass) upgrade tenants: 3 of 3 member(s), in waves of 1, then the rest (2)" in out
    )
    assert "✓ acme succeeded" in out and "✗ initech failed" in out and "✓ globex succeeded" in out
    assert "acme accounts create accounts ... done in" in err  # each member's revisions
    assert "Failed: tenants, 1 member(s) failed (initech)" in out
    request_id = out.split(" ", 1)[0]

    code, out, _ = run(capsys, "requests", request_id)
    assert code == ExitCode.OK
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("    ")}
    assert "succeeded    at payments  wave 1  backup " in lines["acme"]
    assert "failed       at accounts" in lines["initech"] and "already exists" in lines["initech"]
    _, out, _ = run(capsys, "requests", request_id, "--json")
    members = {m["name"]: m for m in json.loads(out)["members"]}
    assert members["globex"]["from"] == ["accounts"] and members["globex"]["current"] == [
        "payments"
    ]
    assert all(m["backup_id"] for m in members.values())

    code, out, _ = run(capsys, "status", "tenants", "--json")
    assert json.loads(out)["behind"] == ["initech"]
    code, out, _ = run(capsys, "backups", "tenants.acme")
    assert code == ExitCode.OK and members["acme"]["backup_id"] in out and "/backups/acme/" in out
    code, _, _ = run(capsys, "audit", "verify")
    assert code == ExitCode.OK


def test_an_unreachable_member_is_listed_by_name_without_its_password(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = json.loads(os.environ[MEMBERS_ENV])
    urls["hooli"] = f"postgresql://app:{SECRET}@127.0.0.1:1/nowhere"
    monkeypatch.setenv(MEMBERS_ENV, json.dumps(urls))
    code, out, err = run(capsys, "status", "tenants")
    assert code == ExitCode.OK
    assert "unreachable: 1" in out and "unreachable: hooli:" in out
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is not set in the environment"),
        ("[1, 2]", "must hold a JSON object of members"),
        ('{"acme": "postgres://a:b@h/d",', "is not JSON"),
        (
            '{"acme": "postgresql://u:' + SECRET + '@h/a", "acme": "postgresql://h/b"}',
            "member 'acme' is listed twice",
        ),
        ('{"a.b": "postgresql://h/d"}', "'a.b' is not a member name"),
        ('{"acme": "mysql://u:' + SECRET + '@h/d"}', "member 'acme'"),
    ],
)
def test_a_bad_members_variable_is_named_and_changes_nothing(
    no_members: Fleet,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    problem: str,
) -> None:
    monkeypatch.setenv(MEMBERS_ENV, value)
    code, out, err = run(capsys, "upgrade", "tenants", "--yes")
    assert code == ExitCode.BAD_INPUT
    assert f"${MEMBERS_ENV}: targets.tenants.members_env: {problem}" in err
    assert SECRET not in out + err
    assert no_members.requests.requests() == []
