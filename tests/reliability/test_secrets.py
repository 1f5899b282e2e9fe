"""No secret leaves the bot: a full flow with every kind of secret in play, then a search.

The bot process gets a database URL with a password (a real login role; the
test server is made to check that password for it), a second target whose
URL carries a wrong password (so libpq's refusal is in play too), AWS keys of
an IAM user that moto checks, and its Slack token and signing secret. It takes
a request through approval, a run with a backup to S3, the outcome, and the
read commands and errors around it. Then each secret, raw and URL-encoded, is
searched for in every Slack call recorded, every file in the bot's folder (the
audit database, its WAL and head file, the outbox, the log), the audit export
(JSON and CSV), the backup's S3 key, metadata, tags and bytes, and the command
lines of every child process seen while it ran: zero hits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import psycopg
from psycopg import sql

from audit.sqlite_store import SqliteEventStore
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests.ledger import load
from commands.state.vocabulary import RequestState
from tests.support.databases import TEST_DATABASE_ENV
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import BotProcess
from tests.support.reliability.child_argv import ChildArgv
from tests.support.reliability.hostile_support import (
    ALICE,
    BOB,
    CHANNELS,
    DEV,
    OPS,
    USERS,
    ask,
    targets_file,
)
from tests.support.s3_server import S3Bucket

CLI = Path(sys.executable).with_name("migrate-bot")
RUN_TIMEOUT = 180


@contextmanager
def password_login(server: DatabaseUrl) -> Iterator[tuple[DatabaseUrl, bool]]:
    """A login role with a password that owns a database of its own: its URL, and whether
    the server checks that password (it does when its pg_hba.conf can be edited here: the
    embedded server's can; a server from $MIGRATE_BOT_TEST_DATABASE_URL may not be)."""
    tag = secrets.token_hex(4)
    role, database = f"mb_secret_{tag}", f"secret_{tag}"
    password = f"pw@{secrets.token_hex(10)}/%:"  # characters a URL must encode
    with connect(server) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
    original = None
    try:
        if not os.environ.get(TEST_DATABASE_ENV) and hba.exists():
            original = hba.read_text()
            checked = "".join(
                f"{kind} all {role} {where} scram-sha-256\n"
                for kind, where in (("local", ""), ("host", "127.0.0.1/32"), ("host", "::1/128"))
            )
            hba.write_text(checked + original)  # the first line that matches decides
            with connect(server) as conn:
                conn.execute("SELECT pg_reload_conf()")
        url = server.with_database(database)
        yield dataclasses.replace(url, username=role, password=password), original is not None
    finally:
        if original is not None:
            hba.write_text(original)
        with connect(server) as conn:
            if original is not None:
                conn.execute("SELECT pg_reload_conf()")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def logs_in(database: DatabaseUrl, password: str) -> bool:
    try:
        psycopg.connect(database.for_libpq(), password=password, connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def rendered(url: DatabaseUrl) -> str:
    return url.text()


def encoded_password(url: DatabaseUrl) -> str:
    """The password as the URL carries it (``pw%40…``)."""
    userinfo = rendered(url).split("://", 1)[1].rsplit("@", 1)[0]
    return userinfo.split(":", 1)[1]


def exported(workdir: Path, environ: dict[str, str], fmt: str) -> str:
    """``migrate-bot audit export --format fmt``, as an operator runs it."""
    out = workdir / f"export.{fmt}"
    subprocess.run(
        [str(CLI), "audit", "export", "--format", fmt, "-o", str(out)],
        cwd=workdir,
        env=environ,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_text(errors="replace")


def s3_side(s3: S3Bucket) -> dict[str, str]:
    """Everything S3 holds about the backups: keys, metadata and headers, tags, bytes."""
    found: dict[str, str] = {}
    for key in s3.keys():  # noqa: SIM118  # a bucket, not a dict
        head = s3.client.head_object(Bucket=s3.name, Key=key)
        tags = s3.client.get_object_tagging(Bucket=s3.name, Key=key)["TagSet"]
        body = s3.client.get_object(Bucket=s3.name, Key=key)["Body"].read()
        head.pop("ResponseMetadata", None)
        found[f"s3 key {key}"] = key
        found[f"s3 head and tags of {key}"] = json.dumps([head, tags], default=str)
        found[f"s3 bytes of {key}"] = body.decode("latin-1")
    return found


def slack_side(bot: BotProcess) -> dict[str, str]:
    workspace = bot.slack.workspace
    calls = [asdict(c) for c in bot.slack.calls()]
    return {
        f"{len(calls)} Slack calls (arguments and answers)": json.dumps(calls, default=str),
        "Slack messages, ephemerals, modals, files": json.dumps(
            [workspace.messages, workspace.ephemerals, workspace.views, workspace.files],
            default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o),
        ),
    }


def files_side(workdir: Path) -> dict[str, str]:
    """Every file the bot wrote in its folder: state database, WAL, head, outbox, log…"""
    return {
        f"file {path.relative_to(workdir)}": path.read_bytes().decode("latin-1")
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and "project" not in path.parts and path.suffix != ".toml"
    }


def answered(bot: BotProcess, user: str, text: str) -> None:
    since = len(bot.slack.workspace.ephemerals)
    assert bot.command(text, user=user, channel=DEV) == 200
    wait_for(
        lambda: [e for e in bot.slack.workspace.ephemerals[since:] if e.user == user],
        120,
        f"the answer to {text!r}",
    )


def test_no_secret_reaches_slack_the_audit_log_the_logs_or_the_backup(
    pg_server: DatabaseUrl, s3: S3Bucket, tmp_path: Path, reliability: Callable[..., None]
) -> None:
    with password_login(pg_server) as (database, checked):
        if checked:  # the password is really checked, not just carried
            assert logs_in(database, str(database.password))
            assert not logs_in(database, "not-the-password")
        wrong = f"wrong-{secrets.token_hex(8)}"
        aws = s3.user_with_policy(f"bot-{secrets.token_hex(3)}", ["s3:*"])
        environ = {
            "APP_DATABASE_URL": rendered(database),
            "LOCKED_DATABASE_URL": rendered(dataclasses.replace(database, password=wrong)),
            **aws,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        more = f"""
            [targets.locked]
            database_url_env = "LOCKED_DATABASE_URL"
            script_location = "{(tmp_path / "project").as_posix()}"
            approvers = ["{BOB}"]
            """
        config = targets_file(
            tmp_path,
            backup=f"s3://{s3.name}/backups",
            keys=f'allowed_channels = ["{DEV}"]\ns3_endpoint_url = "{s3.endpoint}"',
            more=more,
        )
        bot = BotProcess(config, workdir=tmp_path, users=USERS, channels=CHANNELS, environ=environ)
        with s3.authenticating(), bot, ChildArgv(bot.process.pid) as children:
            message, request_id = ask(bot, "upgrade app")
            assert bot.click(message, "approve", user=BOB) == 200
            done = wait_for(
                lambda: (
                    (
                        r := load(SqliteEventStore(tmp_path / "state.sqlite3"), request_id)
                    ).state.is_final
                    and r
                ),
                RUN_TIMEOUT,
                "the run",
            )
            assert done.state is RequestState.SUCCEEDED, done
            wait_for(lambda: [m for m in bot.messages(OPS) if "succeeded" in m.text], 60)
            for text in ("status app", "plan app", "history app", "backups app", "audit verify"):
                answered(bot, ALICE, text)
            for text in ("status locked", "plan app to ffff_0000", "upgrade locked"):
                answered(bot, ALICE, text)  # errors: a wrong password, an unknown revision
        cli_env = {**bot.environment(), **environ}
        sources = {
            **slack_side(bot),
            **files_side(tmp_path),
            "audit export (JSON)": exported(tmp_path, cli_env, "json"),
            "audit export (CSV)": exported(tmp_path, cli_env, "csv"),
            **s3_side(s3),
            f"argv of {len(children.argv)} child processes": json.dumps(sorted(children.argv)),
        }
    password = str(database.password)
    wanted = {
        "database password": password,
        "database password, URL-encoded": encoded_password(database),
        "the other target's wrong password": wrong,
        "AWS access key id": aws["AWS_ACCESS_KEY_ID"],
        "AWS secret access key": aws["AWS_SECRET_ACCESS_KEY"],
        "Slack bot token": bot.token,
        "Slack signing secret": bot.signing_secret,
    }
    hits = [
        (name, where)
        for name, value in wanted.items()
        for where, text in sources.items()
        if value in text
    ]
    assert hits == []
    environment = json.dumps(cli_env)  # the control: the search finds them where they belong
    assert [n for n, v in wanted.items() if v not in environment] == ["database password"]
    assert {"pg_dump", "pg_restore"} <= children.programs(), children.programs()
    assert "bot.log" in " ".join(sources) and s3.keys()
    auth = "checked by the server (scram-sha-256)" if checked else "carried, not checked (trust)"
    reliability(
        area="secrets",
        fault=f"a full flow (request, approval, run with an S3 backup, outcome, read commands and"
        f" errors) with a database password ({auth}), a wrong password, AWS keys, the Slack"
        " token and signing secret",
        tried=len(wanted) * len(sources),
        outcome=f"0 hits searching {len(wanted)} secrets in {len(sources)} places: Slack calls,"
        " the audit database + WAL + head, the outbox, the log, JSON/CSV export, S3 key,"
        f" metadata, tags and bytes, argv of {len(children.argv)} child processes",
    )
