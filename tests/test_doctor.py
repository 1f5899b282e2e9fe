"""``migrate-bot doctor`` against the local Slack-compatible server and a real PostgreSQL:
a set-up that works passes, and each fault planted gets its line and its fix."""

from __future__ import annotations

import dataclasses
import secrets
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.local_slack.faults import Fault
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.slack_api.scopes import BOT_SCOPES
from commands.config.targets_file import BUNDLED_MIGRATIONS, CONFIG_ENV, load_config
from commands.doctor.databases import ServerFacts, pg_dump_finding
from commands.doctor.finding import Health
from commands.errors import ExitCode
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.backup_targets import fake_pg_bin

BOT_TOKEN, APP_TOKEN = "xoxb-doctor-bot", "xapp-1-doctor-app"
OLD_PG_DUMP = 'case "$1" in --version) echo "pg_dump (PostgreSQL) 15.18";; *) exit 1;; esac'


@dataclass
class SetUp:
    """What a test plants faults in: the workspace, the server's options, the file's lines."""

    slack: dict[str, Any]
    ops_channel: str = "C0OPS"
    approvers: str = '["U0BOB", "@db-admins"]'
    extra: str = ""
    state_path: str = "var/state.sqlite3"
    backup: str = "file://var/backups"


@pytest.fixture
def doctor(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_db: DatabaseUrl,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Callable[[SetUp], tuple[int, list[str]]]]:
    servers: list[LocalSlackServer] = []

    def run(setup: SetUp) -> tuple[int, list[str]]:
        workspace = Workspace(
            users={"U0ALICE": "alice", "U0BOB": "bob"},
            usergroups={"S0DBA": ("db-admins", ["U0BOB"])},
            channels={"C0OPS": "ops"},
            bot_channels=setup.slack.pop("bot_channels", {"C0OPS"}),
        )
        faults = setup.slack.pop("faults", [])
        server = LocalSlackServer(
            workspace,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            socket_url="ws://127.0.0.1:9/never-used",
            **setup.slack,
        ).start()
        servers.append(server)
        for fault in faults:
            server.inject(fault)
        monkeypatch.setenv("SLACK_API_URL", server.api_url)
        path = tmp_path / "migrate-bot.toml"
        path.write_text(
            textwrap.dedent(
                f"""
                [bot]
                ops_channel = "{setup.ops_channel}"
                state_path = "{setup.state_path}"

                [targets.prod]
                database_url_env = "PROD_DATABASE_URL"
                script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
                approvers = {setup.approvers}
                backup = "{setup.backup}"
                """
            )
            + setup.extra
        )
        monkeypatch.setenv(CONFIG_ENV, str(path))
        capsys.readouterr()
        code = main(["doctor"])
        return code, capsys.readouterr().out.splitlines()

    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.setenv("PROD_DATABASE_URL", fresh_db.text())
    monkeypatch.chdir(tmp_path)
    yield run
    for server in servers:
        server.stop()


def line(lines: list[str], check: str) -> str:
    found = [text for text in lines if text[6:].startswith(check + " ")]
    assert len(found) == 1, (check, lines)
    return found[0]


def test_a_working_set_up_passes_every_line(
    doctor: Callable[[SetUp], tuple[int, list[str]]],
) -> None:
    code, lines = doctor(SetUp(slack={}))
    assert code == ExitCode.OK, "\n".join(lines)
    for check in ("targets file", "slack token", "slack scopes", "socket mode", "ops channel"):
        assert line(lines, check).startswith("OK "), lines
    assert "@migrate-bot (U0MIGRATEBOT) in local" in line(lines, "slack token")
    assert "#ops (C0OPS): the bot is a member" in line(lines, "ops channel")
    assert "@bob, approver of prod" in line(lines, "approver U0BOB")
    assert "1 member(s)" in line(lines, "approver @db-admins")
    assert line(lines, "database prod").startswith("OK ")
    assert line(lines, "pg_dump prod").startswith("OK ")
    assert "a file was written and deleted" in line(lines, "backups prod")
    assert not list(Path("var/backups").iterdir())  # the probe is gone
    assert "created at the first start" in line(lines, "state")
    assert lines[-1] == "Ready: every check passed."


SLACK_FAULTS = [
    pytest.param(
        {"env": {"SLACK_BOT_TOKEN": "xoxb-revoked"}},
        "slack token",
        "auth.test: invalid_auth → set SLACK_BOT_TOKEN to the Bot User OAuth Token",
        id="bot-token",
    ),
    pytest.param(
        {"slack": {"scopes": tuple(s for s in BOT_SCOPES if s not in {"files:write", "im:write"})}},
        "slack scopes",
        "the bot token lacks im:write, files:write → add them under OAuth & Permissions",
        id="scopes",
    ),
    pytest.param(
        {"env": {"SLACK_APP_TOKEN": "xapp-1-someone-else"}},
        "socket mode",
        "apps.connections.open: invalid_auth → set SLACK_APP_TOKEN to an app-level token",
        id="app-token",
    ),
    pytest.param(
        {"slack": {"faults": [Fault("apps.connections.open", error="missing_scope")]}},
        "socket mode",
        "apps.connections.open: missing_scope → ",
        id="app-token-scope",
    ),
    pytest.param(
        {"env": {"SLACK_APP_TOKEN": BOT_TOKEN}},
        "socket mode",
        "SLACK_APP_TOKEN is not an app-level token",
        id="app-token-is-a-bot-token",
    ),
    pytest.param(
        {"slack": {"bot_channels": set()}},
        "ops channel",
        "#ops (C0OPS): the bot is not a member (it posts there, and reads back what it posted"
        " after a crash) → type /invite @migrate-bot in #ops",
        id="not-in-channel",
    ),
    pytest.param(
        {"ops_channel": "C0NOPE"},
        "ops channel",
        "C0NOPE: conversations.info: channel_not_found → set [bot] ops_channel",
        id="no-channel",
    ),
    pytest.param(
        {"approvers": '["U0GONE", "@db-admins"]'},
        "approver U0GONE",
        "approver of prod: users.info: user_not_found → use the member id",
        id="no-user",
    ),
    pytest.param(
        {"approvers": '["U0BOB", "@nobody"]'},
        "approver @nobody",
        "approver of prod: no user group @nobody in this workspace → check the handle",
        id="no-group",
    ),
]


@pytest.mark.parametrize(("plant", "check", "expected"), SLACK_FAULTS)
def test_each_slack_fault_gets_its_line_and_its_fix(
    doctor: Callable[[SetUp], tuple[int, list[str]]],
    monkeypatch: pytest.MonkeyPatch,
    plant: dict[str, Any],
    check: str,
    expected: str,
) -> None:
    for name, value in plant.pop("env", {}).items():
        monkeypatch.setenv(name, value)
    setup = SetUp(slack=dict(plant.pop("slack", {})), **plant)
    code, lines = doctor(setup)
    assert code == ExitCode.FAILED, lines
    found = line(lines, check)
    assert found.startswith("FAIL ") and expected in found, found
    assert [text for text in lines if text.startswith("FAIL ")] == [found]  # only that one
    assert BOT_TOKEN not in "\n".join(lines) and APP_TOKEN not in "\n".join(lines)


def test_a_role_that_may_not_change_the_schema_is_told_what_to_grant(
    doctor: Callable[[SetUp], tuple[int, list[str]]],
    fresh_db: DatabaseUrl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    role = f"doctor_{secrets.token_hex(3)}"
    with connect(fresh_db) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute("CREATE TABLE videos (id int)")  # owned by the superuser, not the role
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        url = dataclasses.replace(fresh_db, username=role).text()
        monkeypatch.setenv("PROD_DATABASE_URL", url)
        code, lines = doctor(SetUp(slack={}))
        found = line(lines, "database prod")
        assert code == ExitCode.FAILED and found.startswith("FAIL "), lines
        assert f"as {role}: may not CREATE in schema public" in found
        assert f"→ GRANT CREATE ON SCHEMA public TO {role}" in found

        with connect(fresh_db) as conn:
            conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        code, lines = doctor(SetUp(slack={}))
        found = line(lines, "database prod")
        assert code == ExitCode.OK and found.startswith("WARN "), lines
        assert "1 table(s) belong to " in found and f"TO {role}" in found
    finally:
        with connect(fresh_db) as conn:
            conn.execute("DROP TABLE videos")
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_database_backup_and_state_faults_get_their_lines(
    doctor: Callable[[SetUp], tuple[int, list[str]]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    old = fake_pg_bin(tmp_path / "old-bin", OLD_PG_DUMP)
    monkeypatch.setenv("PROD_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/app")
    code, lines = doctor(
        SetUp(
            slack={},
            state_path="a-file/state.sqlite3",
            backup="file://a-file/backups",
            extra=f'pg_bin_dir = "{old}"\n',
        )
    )
    assert code == ExitCode.FAILED
    database = line(lines, "database prod")
    assert (
        database.startswith("FAIL ")
        and "cannot connect to postgresql://nobody@127.0.0.1:1" in database
    )
    assert "→ check the host, port" in database
    backups = line(lines, "backups prod")
    assert backups.startswith("FAIL ") and "→ make the folder writable" in backups
    state = line(lines, "state")
    assert state.startswith("FAIL ") and "cannot write in" in state and "[bot] state_path" in state

    monkeypatch.delenv("PROD_DATABASE_URL")
    code, lines = doctor(SetUp(slack={}))
    unset = line(lines, "database prod")
    assert "PROD_DATABASE_URL: targets.prod.database_url_env: is not set" in unset
    assert "→ set PROD_DATABASE_URL in the bot's environment" in unset


def test_pg_dump_older_than_the_server_is_named_with_where_to_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_file: Path
) -> None:
    old = fake_pg_bin(tmp_path / "old-bin", OLD_PG_DUMP)
    target = replace(load_config().target("app"), pg_bin_dir=old)
    facts = ServerFacts("app", "18.6", 18, True, "public", True, 0, "")
    passed_over = pg_dump_finding("app", target, facts, {"PATH": ""})
    assert passed_over.health is Health.WARN
    assert f"pg_bin_dir ({old}) has no pg_dump of PostgreSQL 18 or later" in passed_over.summary
    newer_server = replace(facts, version="19.1", major=19)
    none_fits = pg_dump_finding("app", target, newer_server, {"PATH": ""})
    assert none_fits.health is Health.FAIL
    assert "no pg_dump of PostgreSQL 19 or later for the server's 19.1" in none_fits.summary
    assert (
        none_fits.fix
        == "install PostgreSQL 19's client programs and set pg_bin_dir to their folder"
    )
