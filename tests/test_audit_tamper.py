"""Tampering with the SQLite file behind the bot's back makes `audit verify` fail and
name the event; an untouched log verifies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from audit.chain import canonical_json, event_hash
from bot.cli import main
from commands.errors import ExitCode
from commands.requests import RequestService
from tests.support.request_helpers import (
    APPROVER,
    fingerprint,
    make_service,
    ready_for_approval,
    write_config,
)

Tamper = Callable[[sqlite3.Connection, Path], None]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of 16 events: two requests, the first approved and running."""
    config = write_config(tmp_path)
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    service: RequestService = make_service(config)
    first = ready_for_approval(service)
    service.approve(first.id, approver=APPROVER)
    service.start_run(first.id, actor="migrate-bot", fingerprint_now=fingerprint())
    ready_for_approval(service)
    head = service.store.head()
    assert head is not None and head.seq == 16
    return config.bot.state_path


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit(conn: sqlite3.Connection, _: Path) -> None:
    conn.execute("UPDATE events SET actor = 'U0EVE' WHERE seq = 9")


def reformat(conn: sqlite3.Connection, _: Path) -> None:
    """Same JSON meaning, different bytes: still an edit of what was recorded."""
    conn.execute("UPDATE events SET data = replace(data, ',', ', ') WHERE seq = 1")


def forge_actor(conn: sqlite3.Connection, seq: int) -> None:
    """Make U0EVE the actor of event ``seq`` and recompute its own hash to match."""
    row = conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
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
    conn.execute("UPDATE events SET actor = 'U0EVE', hash = ? WHERE seq = ?", (digest, seq))


def edit_and_rehash(conn: sqlite3.Connection, _: Path) -> None:
    """A careful forger: fix event 9's own hash after editing it."""
    forge_actor(conn, 9)


def edit_and_rehash_last(conn: sqlite3.Connection, _: Path) -> None:
    """Rewrite the newest event consistently; only the head file still knows."""
    forge_actor(conn, 16)


def delete(conn: sqlite3.Connection, _: Path) -> None:
    conn.execute("DELETE FROM events WHERE seq = 7")


def reorder(conn: sqlite3.Connection, _: Path) -> None:
    conn.execute("UPDATE events SET seq = -1 WHERE seq = 5")
    conn.execute("UPDATE events SET seq = 5 WHERE seq = 6")
    conn.execute("UPDATE events SET seq = 6 WHERE seq = -1")


def truncate(conn: sqlite3.Connection, _: Path) -> None:
    conn.execute("DELETE FROM events WHERE seq > 12")


def drop_head_file(_: sqlite3.Connection, path: Path) -> None:
    path.with_name(path.name + ".head").unlink()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (edit, "event 9: content does not match its hash (edited)"),
        (reformat, "event 1: content does not match its hash (edited)"),
        (edit_and_rehash, "event 10: does not follow event 9"),
        (delete, "event 7: event 7 is missing (found 8)"),
        (reorder, "event 5: does not follow event 4"),
        (truncate, "event 16: event 16 was recorded as the head but is gone (truncated)"),
        (drop_head_file, "event 16: the head file"),
    ],
    ids=[
        "edit",
        "reformat",
        "edit-and-rehash",
        "delete",
        "reorder",
        "truncate",
        "head-file-deleted",
    ],
)
def test_tampering_fails_verify_naming_the_event(
    capsys: pytest.CaptureFixture[str], log: Path, tamper: Tamper, message: str
) -> None:
    assert verify(capsys) == (
        ExitCode.OK,
        f"ok: 16 events, every hash and link verifies, head {_head(log)}\n",
    )
    with sqlite3.connect(log) as conn:
        tamper(conn, log)
    code, output = verify(capsys)
    assert code == ExitCode.FAILED
    assert f"error: the audit log does not verify: {message}" in output


def test_a_rewritten_head_file_is_caught_by_a_head_kept_elsewhere(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    kept = _head(log)  # e.g. posted to the ops channel after the run
    with sqlite3.connect(log) as conn:
        truncate(conn, log)
        seq, digest = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC").fetchone()
    log.with_name(log.name + ".head").write_text(f"{seq}:{digest}\n")
    assert verify(capsys)[0] == ExitCode.OK  # the forger covered the tracks beside the file…
    code, output = verify(capsys, "--expect-head", kept, "--json")
    assert code == ExitCode.FAILED  # …but not the head kept elsewhere
    assert '"breach": {\n    "seq": 16' in output and "truncated" in output
    assert verify(capsys, "--expect-head", "15:nothex")[0] == ExitCode.BAD_INPUT


def test_the_console_script_fails_a_tampered_log(log: Path) -> None:
    script = Path(sys.executable).with_name("migrate-bot")
    ok = subprocess.run([script, "audit", "verify"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    with sqlite3.connect(log) as conn:
        delete(conn, log)
    broken = subprocess.run(
        [script, "audit", "verify"], capture_output=True, text=True, check=False
    )
    assert broken.returncode == ExitCode.FAILED
    assert "event 7 is missing" in broken.stderr


def _head(log: Path) -> str:
    return log.with_name(log.name + ".head").read_text().strip()


@pytest.mark.parametrize("tamper", [truncate, drop_head_file, edit_and_rehash_last])
def test_a_log_cut_or_rewritten_at_its_end_takes_no_more_writes(
    capsys: pytest.CaptureFixture[str], log: Path, tamper: Tamper
) -> None:
    """Appending would move the head past the damage and hide it: the bot stops instead."""
    with sqlite3.connect(log) as conn:
        tamper(conn, log)
        before = conn.execute("SELECT count(*), max(seq) FROM events").fetchone()
    code = main(["freeze", "prod", "--reason", "incident"])
    err = capsys.readouterr().err
    assert code == ExitCode.UNAVAILABLE
    assert f"error: the audit log {log} was tampered with (" in err
    with sqlite3.connect(log) as conn:
        assert conn.execute("SELECT count(*), max(seq) FROM events").fetchone() == before
    assert verify(capsys)[0] == ExitCode.FAILED


def test_a_file_that_is_not_a_log_is_refused_plainly(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    log.write_bytes(b"not a database " * 100)
    log.with_name(log.name + "-wal").unlink(missing_ok=True)
    code, output = verify(capsys)
    assert code == ExitCode.UNAVAILABLE
    assert f"error: cannot open the audit log {log}: file is not a database" in output
