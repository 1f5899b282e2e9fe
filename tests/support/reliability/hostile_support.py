"""The bot process under attack, and what "nothing changed" means for it.

``hostile_bot`` starts the bot on target ``app`` (two cheap revisions on a
database of its own, approver BOB, asked for from DEV only) with one request
of ALICE's waiting for approval. ``Snapshot`` is everything hostile input must
leave alone: the audit log (each event's seq and kind; appended refusals are
allowed, since refusing a real user is recorded for the auditor), every
request's state, approvals, checklist and closure, the tables of the target
database and of the state file. ``Quiet`` checks the bot's own account: no
traceback and no ERROR line in its log, nobody told "something went wrong",
``/health`` still answering.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from audit.sqlite_store import SqliteEventStore
from audit.store import EventStore
from bot.local_slack.workspace import Message
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests.ledger import newest_requests
from commands.state.vocabulary import EventKind
from tests.support.alembic_projects import Rev, table, write_project
from tests.support.databases import create_database, drop_database
from tests.support.polling import wait_for
from tests.support.reliability.bot_process import BotProcess

ALICE, BOB, EVE = "U0ALICE", "U0BOB", "U0EVE"
DEV, OPS, ELSEWHERE = "C0DEV", "C0OPS", "C0ELSEWHERE"
USERS = {ALICE: "alice", BOB: "bob", EVE: "eve"}
CHANNELS = {DEV: "dev", OPS: "ops", ELSEWHERE: "elsewhere"}
REVISIONS = ("t_one", "t_two")
FOREIGN_TEAM = "T0FOREIGN"


def full_run(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full"))


def targets_file(
    root: Path,
    revisions: list[Rev] | None = None,
    *,
    backup: str = "file://backups",
    keys: str = f'allowed_channels = ["{DEV}"]',
    more: str = "",
) -> Path:
    """Target ``app`` on ``$APP_DATABASE_URL``: ``revisions`` (default two tables), BOB
    approves; ``keys`` go in its table, ``more`` after it (other targets)."""
    project = write_project(
        root / "project", revisions or [table("t_one"), table("t_two", ("t_one",))]
    )
    path = root / "migrate-bot.toml"
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "{OPS}"

        [targets.app]
        database_url_env = "APP_DATABASE_URL"
        script_location = "{project.as_posix()}"
        approvers = ["{BOB}"]
        checklist = []
        backup = "{backup}"
        """
    )
    path.write_text(text + keys + "\n" + textwrap.dedent(more))
    return path


@dataclass(frozen=True)
class Snapshot:
    events: tuple[tuple[int, str], ...]
    requests: tuple[tuple[Any, ...], ...]
    target_tables: tuple[str, ...]
    state_tables: tuple[str, ...]


@dataclass
class HostileBot:
    bot: BotProcess
    database: DatabaseUrl
    workdir: Path
    pending: str  # ALICE's request, waiting for BOB's approval
    message: Message  # its message in DEV

    @property
    def store(self) -> EventStore:
        return SqliteEventStore(self.workdir / "state.sqlite3")

    def snapshot(self) -> Snapshot:
        store = self.store
        events = tuple((e.seq, e.kind) for e in store.iter_events())
        requests = tuple(
            (r.id, r.state, r.approvals, r.checklist, r.closure)
            for r in newest_requests(store, target=None, states=None)
        )
        with connect(self.database) as conn:
            rows = conn.execute(
                "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace"
                " WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
                " ORDER BY relname"
            ).fetchall()
            version = []
            if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0]:
                version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        with closing(sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)) as db:
            names = db.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
        state_tables = tuple(n[0] for n in names)
        target = tuple(r[0] for r in rows) + tuple(f"alembic_version={v[0]}" for v in version)
        return Snapshot(events, requests, target, state_tables)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.bot.url}/health", timeout=10) as answer:
            assert answer.status == 200
            return dict(json.load(answer))

    def undelivered(self) -> float:
        """Slack notifications still in the bot's outbox (pending or being sent), as scraped."""
        with urllib.request.urlopen(f"{self.bot.url}/metrics", timeout=10) as answer:
            families = text_string_to_metric_families(answer.read().decode())
            return sum(
                sample.value
                for family in families
                if family.name == "migrate_bot_outbox_depth"
                for sample in family.samples
                if sample.labels["state"] in ("pending", "sending")
            )

    def idle(self, timeout: float = 120) -> None:
        """Wait until the bot has no command or click in hand and nothing left to tell Slack
        (the approvers' DMs go out after the request message)."""
        wait_for(lambda: self.health()["worker"]["pending"] == 0, timeout, "the bot's worker")
        wait_for(lambda: self.undelivered() == 0, timeout, "the bot's outbox")

    def quiet_since(self, offset: int, ephemerals_from: int = 0) -> None:
        """No traceback or ERROR line in the log after ``offset``; nobody told of a bug."""
        self.idle()
        log = self.bot.log_text()[offset:]
        assert "Traceback" not in log, log[log.find("Traceback") - 300 :][:3000]
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert errors == [], errors[:5]
        said = [e.text for e in self.bot.slack.workspace.ephemerals[ephemerals_from:]]
        assert not [t for t in said if "Something went wrong" in str(t)], said[:5]
        assert self.health()["status"] == "ok"

    def log_offset(self) -> int:
        return len(self.bot.log_text())

    def ask(self, text: str, *, user: str = ALICE) -> tuple[Message, str]:
        return ask(self.bot, text, user=user)


def ask(bot: BotProcess, text: str, *, user: str = ALICE) -> tuple[Message, str]:
    """``/migrate text`` from DEV; the request message it posts, and the request id."""
    before = {m.ts for m in bot.messages(DEV)}
    assert bot.command(text, user=user, channel=DEV) == 200

    def posted() -> Message | None:
        for message in bot.messages(DEV):
            if message.ts not in before and message.blocks and " · " in header(message):
                return message
        return None

    message = wait_for(posted, 120, f"the request message of {text!r}")
    return message, header(message).split(" ")[0]


def click_payload(
    *,
    action_id: str,
    value: Any,
    block_id: Any,
    user: str,
    team: Any,
    element: dict[str, Any],
    message_ts: str,
) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "button", "action_id": action_id, "block_id": block_id}
    if value is not None:
        action["value"] = value
    action.update(element)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user},
        "channel": {"id": DEV},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": DEV},
        "actions": [action],
    }
    if team is not ...:
        payload["team"] = team
    return payload


def post_payload(
    target: HostileBot, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """``payload`` as Slack posts an interaction, signed, with fresh interaction ids."""
    sender = target.bot.sender
    trigger_id, response_url = sender.mint(DEV, str(payload_user(payload) or EVE))
    if isinstance(payload, dict):
        payload = {"trigger_id": trigger_id, "response_url": response_url, **payload}
    return sender.post(urlencode({"payload": json.dumps(payload)}).encode(), headers=headers)


def payload_user(payload: Any) -> Any:
    user = payload.get("user") if isinstance(payload, dict) else None
    return user.get("id") if isinstance(user, dict) else None


def header(message: Message) -> str:
    return str(message.blocks[0].get("text", {}).get("text", "")) if message.blocks else ""


def refusals_only(before: Snapshot, after: Snapshot) -> None:
    """Nothing changed but ``action_refused`` records appended to the audit log."""
    assert after.events[: len(before.events)] == before.events
    added = {kind for _, kind in after.events[len(before.events) :]}
    assert added <= {EventKind.ACTION_REFUSED}, added
    assert after.requests == before.requests
    assert after.target_tables == before.target_tables
    assert after.state_tables == before.state_tables


@contextmanager
def hostile_bot(pg_server: DatabaseUrl, workdir: Path) -> Iterator[HostileBot]:
    database = create_database(pg_server, "hostile")
    url = database.text()
    bot = BotProcess(
        targets_file(workdir),
        workdir=workdir,
        users=USERS,
        channels=CHANNELS,
        environ={"APP_DATABASE_URL": url},
    )
    try:
        with bot:
            message, pending = ask(bot, "upgrade app")
            target = HostileBot(bot, database, workdir, pending, message)
            target.idle()
            yield target
    finally:
        drop_database(pg_server, database)
