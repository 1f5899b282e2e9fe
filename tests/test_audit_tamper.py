"""Tampering with the stored log behind the bot's back makes `audit verify` fail and
name the event; an untouched log verifies. Every case runs on both back-ends: the
SQLite file (head file beside it) and the shared PostgreSQL (head row beside the events)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from audit.chain import canonical_json, event_hash
from bot.cli import main
from commands.errors import ExitCode
from commands.requests import RequestService
from commands.state.schema import SEARCH_PATH
from tests.support.request_helpers import (
    APPROVER,
    fingerprint,
    make_service,
    ready_for_approval,
    write_config,
)
from tests.support.shared_state import SHARED_BOT_KEYS


@dataclass
class StoredLog:
    """Where the log of a test lives, and a forger's raw access to it."""

    path: Path  # the SQLite file (unused by PostgreSQL)
    url: str | None  # the shared state's database

    @property
    def shared(self) -> bool:
        return self.url is not None

    @contextmanager
    def forger(self) -> Iterator[Forger]:
        if self.url is None:
            with sqlite3.connect(self.path) as conn:
                yield Forger(lambda sql, params=(): conn.execute(sql, params), self)
            return
        with psycopg.connect(self.url, options=SEARCH_PATH, autocommit=True) as conn:
            yield Forger(lambda sql, params=(): conn.execute(sql.replace("?", "%s"), params), self)

    def head(self) -> str:
        if self.url is None:
            return self.path.with_name(self.path.name + ".head").read_text().strip()
        with self.forger() as forger:
            seq, digest = forger.execute("SELECT seq, hash FROM chain_head").fetchone()
        return f"{seq}:{digest}"

    def where(self) -> str:
        return (
            "the audit log in PostgreSQL (schema migrate_bot)"
            if self.shared
            else (f"the audit log {self.path}")
        )


@dataclass
class Forger:
    execute: Callable[..., Any]
    log: StoredLog

    def drop_head(self) -> None:
        if self.log.shared:
            self.execute("DELETE FROM chain_head")
        else:
            self.log.path.with_name(self.log.path.name + ".head").unlink()

    def set_head(self, seq: int, digest: str) -> None:
        if self.log.shared:
            self.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, digest))
        else:
            self.log.path.with_name(self.log.path.name + ".head").write_text(f"{seq}:{digest}\n")

    def count(self) -> Sequence[Any]:
        return tuple(self.execute("SELECT count(*), max(seq) FROM events").fetchone())


Tamper = Callable[[Forger], None]


@pytest.fixture(params=["sqlite", "postgres"])
def stored(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StoredLog:
    """A log of 16 events: two requests, the first approved and running."""
    url = request.getfixturevalue("shared_state_url") if request.param == "postgres" else None
    config = write_config(tmp_path, bot_keys=SHARED_BOT_KEYS if url else "")
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    service: RequestService = make_service(config)
    first = ready_for_approval(service)
    service.approve(first.id, approver=APPROVER)
    service.start_run(first.id, actor="migrate-bot", fingerprint_now=fingerprint())
    ready_for_approval(service)
    head = service.store.head()
    assert head is not None and head.seq == 16
    return StoredLog(config.bot.state_path, url)


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit(forger: Forger) -> None:
    forger.execute("UPDATE events SET actor = 'U0EVE' WHERE seq = 9")


def reformat(forger: Forger) -> None:
    """Same JSON meaning, different bytes: still an edit of what was recorded."""
    forger.execute("UPDATE events SET data = replace(data, ',', ', ') WHERE seq = 1")


def forge_actor(forger: Forger, seq: int) -> None:
    """Make U0EVE the actor of event ``seq`` and recompute its own hash to match."""
    row = forger.execute(
        "SELECT seq, ts, request_id, target, actor, kind, data, prev_hash, hash FROM events"
        " WHERE seq = ?",
        (seq,),
    ).fetchone()
    seq, ts, request_id, target, _actor, kind, data, prev_hash, _ = row
    digest = event_hash(
        seq=seq,
        ts=ts,
        request_id=request_id,
        target=target,
        actor="U0EVE",
        kind=kind,
        data_json=canonical_json(json.loads(data)),
        prev_hash=prev_hash,
    )
    forger.execute("UPDATE events SET actor = 'U0EVE', hash = ? WHERE seq = ?", (digest, seq))


def edit_and_rehash(forger: Forger) -> None:
    """A careful forger: fix event 9's own hash after editing it."""
    forge_actor(forger, 9)


def edit_and_rehash_last(forger: Forger) -> None:
    """Rewrite the newest event consistently; only the recorded head still knows."""
    forge_actor(forger, 16)


def delete(forger: Forger) -> None:
    forger.execute("DELETE FROM events WHERE seq = 7")


def reorder(forger: Forger) -> None:
    forger.execute("UPDATE events SET seq = -1 WHERE seq = 5")
    forger.execute("UPDATE events SET seq = 5 WHERE seq = 6")
    forger.execute("UPDATE events SET seq = 6 WHERE seq = -1")


def truncate(forger: Forger) -> None:
    forger.execute("DELETE FROM events WHERE seq > 12")


def drop_head(forger: Forger) -> None:
    forger.drop_head()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (edit, "event 9: content does not match its hash (edited)"),
        (reformat, "event 1: content does not match its hash (edited)"),
        (edit_and_rehash, "event 10: does not follow event 9"),
        (delete, "event 7: event 7 is missing (found 8)"),
        (reorder, "event 5: does not follow event 4"),
        (truncate, "event 16: event 16 was recorded as the head but is gone (truncated)"),
        (drop_head, "event 16: the {head}"),
    ],
    ids=[
        "edit",
        "reformat",
        "edit-and-rehash",
        "delete",
        "reorder",
        "truncate",
        "head-deleted",
    ],
)
def test_tampering_fails_verify_naming_the_event(
    capsys: pytest.CaptureFixture[str], stored: StoredLog, tamper: Tamper, message: str
) -> None:
    assert verify(capsys) == (
        ExitCode.OK,
        f"ok: 16 events, every hash and link verifies, head {stored.head()}\n",
    )
    with stored.forger() as forger:
        tamper(forger)
    code, output = verify(capsys)
    assert code == ExitCode.FAILED
    head = "recorded head" if stored.shared else "head file"
    assert f"error: the audit log does not verify: {message.format(head=head)}" in output


def test_a_rewritten_head_is_caught_by_a_head_kept_elsewhere(
    capsys: pytest.CaptureFixture[str], stored: StoredLog
) -> None:
    kept = stored.head()  # e.g. posted to the ops channel after the run
    with stored.forger() as forger:
        truncate(forger)
        seq, digest = forger.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        forger.set_head(seq, digest)
    assert verify(capsys)[0] == ExitCode.OK  # the forger covered the tracks beside the file…
    code, output = verify(capsys, "--expect-head", kept, "--json")
    assert code == ExitCode.FAILED  # …but not the head kept elsewhere
    assert '"breach": {\n    "seq": 16' in output and "truncated" in output
    assert verify(capsys, "--expect-head", "15:nothex")[0] == ExitCode.BAD_INPUT


def test_the_console_script_fails_a_tampered_log(stored: StoredLog) -> None:
    script = Path(sys.executable).with_name("migrate-bot")
    ok = subprocess.run([script, "audit", "verify"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    with stored.forger() as forger:
        delete(forger)
    broken = subprocess.run(
        [script, "audit", "verify"], capture_output=True, text=True, check=False
    )
    assert broken.returncode == ExitCode.FAILED
    assert "event 7 is missing" in broken.stderr


@pytest.mark.parametrize("tamper", [truncate, drop_head, edit_and_rehash_last])
def test_a_log_cut_or_rewritten_at_its_end_takes_no_more_writes(
    capsys: pytest.CaptureFixture[str], stored: StoredLog, tamper: Tamper
) -> None:
    """Appending would move the head past the damage and hide it: the bot stops instead."""
    with stored.forger() as forger:
        tamper(forger)
        before = forger.count()
    code = main(["freeze", "prod", "--reason", "incident"])
    err = capsys.readouterr().err
    assert code == ExitCode.UNAVAILABLE
    assert f"error: {stored.where()} was tampered with (" in err
    with stored.forger() as forger:
        assert forger.count() == before
    assert verify(capsys)[0] == ExitCode.FAILED


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite log (the file itself is what the next test breaks)."""
    config = write_config(tmp_path)
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    ready_for_approval(make_service(config))
    return config.bot.state_path


def test_a_file_that_is_not_a_log_is_refused_plainly(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    log.write_bytes(b"not a database " * 100)
    log.with_name(log.name + "-wal").unlink(missing_ok=True)
    code, output = verify(capsys)
    assert code == ExitCode.UNAVAILABLE
    assert f"error: cannot open the audit log {log}: file is not a database" in output


def test_verify_new_rehashes_only_what_was_appended_and_still_holds_the_log_to_its_head(
    capsys: pytest.CaptureFixture[str], stored: StoredLog
) -> None:
    """``--new`` walks the events after the last verified head; rewriting that head, even
    with the head file made to match, fails it."""
    assert verify(capsys, "--new")[0] == ExitCode.OK  # nothing verified yet: a full walk
    assert main(["freeze", "prod", "--reason", "incident"]) == ExitCode.OK
    capsys.readouterr()
    assert verify(capsys, "--new") == (
        ExitCode.OK,
        "ok: 1 events since event 16 (verified before, unchanged), every hash and link"
        f" verifies, head {stored.head()}; without --new every event is rehashed\n",
    )
    verified = stored.head()
    with stored.forger() as forger:
        forge_actor(forger, 17)  # the newest event rewritten, its hash and the head file too
        forger.set_head(17, forger.execute("SELECT hash FROM events WHERE seq = 17").fetchone()[0])
    code, output = verify(capsys, "--new")
    assert code == ExitCode.FAILED
    assert f"event 17: differs from the recorded head {verified}" in output


def test_an_older_event_edited_in_place_is_left_to_the_full_walk(
    capsys: pytest.CaptureFixture[str], stored: StoredLog
) -> None:
    """What ``--new`` does not prove (docs/audit-log.md says so): events before the
    verified head are not rehashed."""
    assert verify(capsys)[0] == ExitCode.OK
    with stored.forger() as forger:
        edit(forger)  # event 9, its hash left as it was
    assert verify(capsys, "--new")[0] == ExitCode.OK
    code, output = verify(capsys)
    assert code == ExitCode.FAILED and "event 9: content does not match its hash" in output
