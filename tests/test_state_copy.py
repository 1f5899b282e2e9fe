"""`migrate-bot state copy`: a SQLite state moved into PostgreSQL, chain intact and verified."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from audit.sqlite_store import SqliteEventStore
from bot.cli import main
from commands.errors import ExitCode
from commands.state.outbox import Kind, Outbox, State, open_outbox
from commands.state.people import PeopleDirectory, known_names, open_people
from tests.support.request_helpers import (
    APPROVER,
    make_service,
    ready_for_approval,
    write_config,
)
from tests.support.shared_state import SHARED_BOT_KEYS, STATE_URL_ENV


@pytest.fixture
def sqlite_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite state: two requests (one approved), a delivered post and a pending update,
    the approver's name."""
    config = write_config(tmp_path)
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    monkeypatch.chdir(tmp_path)
    service = make_service(config)
    first = ready_for_approval(service)
    service.approve(first.id, approver=APPROVER)
    ready_for_approval(service)
    outbox = Outbox(config.bot.state_path)
    outbox.enqueue(key="M-1:message", kind=Kind.POST, payload={"text": "M-1"}, now=1.0)
    outbox.delivered(1, channel="C0OPS", ts="1710000000.000100")
    outbox.enqueue(
        key="u1", kind=Kind.UPDATE, payload={"text": "M-1 v2"}, now=2.0, message="M-1:message"
    )
    outbox.close()
    people = PeopleDirectory(config.bot.state_path)
    people.remember(APPROVER, "bob")
    people.close()
    return config.bot.state_path


def test_a_copy_carries_every_event_and_hash_and_verifies_where_it_lands(
    capsys: pytest.CaptureFixture[str], sqlite_state: Path, shared_state_url: str
) -> None:
    source = SqliteEventStore(sqlite_state)
    head = source.head()
    assert main(["state", "copy", "--to-url-env", STATE_URL_ENV]) == ExitCode.OK
    said = capsys.readouterr().out
    assert f"{source.head().seq} events, head {head}" in said  # type: ignore[union-attr]
    assert "2 notifications" in said and "verifies" in said

    shared = write_config(sqlite_state.parent, bot_keys=SHARED_BOT_KEYS)
    assert main(["audit", "verify", "--expect-head", str(head)]) == ExitCode.OK
    assert f"head {head}" in capsys.readouterr().out
    copied = make_service(shared)
    assert copied.store.events() == source.events()  # seq, ts, data text and hashes alike
    assert [e.data_json for e in copied.store.events()] == [e.data_json for e in source.events()]

    later = ready_for_approval(copied)  # the chain goes on from the copied head
    assert later.id == "M-3"
    appended = copied.store.events(after_seq=head.seq, limit=1)[0]  # type: ignore[union-attr]
    assert appended.prev_hash == head.hash  # type: ignore[union-attr]
    assert main(["audit", "verify", "--expect-head", str(head)]) == ExitCode.OK

    outbox = open_outbox(shared.bot.state)
    assert outbox.location("M-1:message") == ("C0OPS", "1710000000.000100")
    assert [d.key for d in outbox.due(now=10.0)] == ["u1"]
    assert outbox.enqueue(key="new", kind=Kind.POST, payload={}, now=3.0)  # ids go on
    assert outbox.state_of("new") == (State.PENDING, 0, None)


def test_the_names_are_copied_and_the_terminal_reads_them_from_the_shared_state(
    capsys: pytest.CaptureFixture[str], sqlite_state: Path, shared_state_url: str
) -> None:
    assert main(["state", "copy", "--to-url-env", STATE_URL_ENV]) == ExitCode.OK
    shared = write_config(sqlite_state.parent, bot_keys=SHARED_BOT_KEYS)
    sqlite_state.unlink()  # nothing is read from the file any more
    capsys.readouterr()
    assert main(["audit", "--request", "M-1"]) == ExitCode.OK
    assert re.search(r"  M-1 +prod +bob +approved$", capsys.readouterr().out, re.M)

    open_people(shared.bot.state).remember(APPROVER, "robert\x07")  # as a worker records it
    assert known_names(shared.bot.state) == {APPROVER: "robert"}
    assert main(["requests", "M-1"]) == ExitCode.OK
    assert f"approved by robert ({APPROVER})" in capsys.readouterr().out


def test_a_second_copy_is_refused_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], sqlite_state: Path, shared_state_url: str
) -> None:
    assert main(["state", "copy", "--to-url-env", STATE_URL_ENV]) == ExitCode.OK
    capsys.readouterr()
    assert main(["state", "copy", "--to-url-env", STATE_URL_ENV]) == ExitCode.REFUSED
    err = capsys.readouterr().err
    assert "already holds 15 events: a state is copied once" in err
    shared = write_config(sqlite_state.parent, bot_keys=SHARED_BOT_KEYS)
    assert len(make_service(shared).store.events()) == 15


def test_a_source_that_does_not_verify_is_not_copied(
    capsys: pytest.CaptureFixture[str], sqlite_state: Path, shared_state_url: str
) -> None:
    with sqlite3.connect(sqlite_state) as conn:
        conn.execute("UPDATE events SET actor = 'U0EVE' WHERE seq = 4")
    assert main(["state", "copy", "--to-url-env", STATE_URL_ENV]) == ExitCode.FAILED
    assert "event 4: content does not match its hash" in capsys.readouterr().err
    shared = write_config(sqlite_state.parent, bot_keys=SHARED_BOT_KEYS)
    assert make_service(shared).store.events() == []


def test_a_missing_or_bad_url_variable_is_named(
    capsys: pytest.CaptureFixture[str], sqlite_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOWHERE_URL", raising=False)
    assert main(["state", "copy", "--to-url-env", "NOWHERE_URL"]) == ExitCode.BAD_INPUT
    assert "$NOWHERE_URL: bot.state_url_env: is not set in the environment" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("NOWHERE_URL", "mysql://u:s3cret@db/x")
    assert main(["state", "copy", "--to-url-env", "NOWHERE_URL"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "is not postgresql://" in err and "s3cret" not in err
    assert main(["state", "copy", "--to-url-env", "not a var"]) == ExitCode.BAD_INPUT
