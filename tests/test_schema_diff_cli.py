"""Every run keeps its schema diff: an audit event with its sha256 and summary, the diff in
the state; ``migrate-bot requests ID --schema-diff`` shows it and proves it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.cli import main
from commands.config.targets_file import load_config
from commands.errors import ExitCode
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind
from tests.support.checks_support import BEFORE_RISKY


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("config_file")
def test_a_run_records_its_schema_diff_and_the_cli_proves_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "upgrade", "app", "--to", BEFORE_RISKY, "--yes", "--json")
    assert code == ExitCode.OK, out
    request_id = json.loads(out)["request_id"]
    code, out = run(capsys, "upgrade", "app", "--yes", "--json")
    assert code == ExitCode.OK, out
    second = json.loads(out)["request_id"]
    store = open_audit_log(load_config().bot.state)
    event = store.events(request_id=second, kinds=[EventKind.SCHEMA_DIFF])[0]
    store.close()
    assert event.data["summary"] == "2 tables changed, 1 index added"
    code, out = run(capsys, "requests", second, "--schema-diff")
    assert code == ExitCode.OK
    assert f"app: 2 tables changed, 1 index added (audit event #{event.seq}" in out
    assert "the stored diff hashes to the sha256 the audit event recorded" in out
    assert "- column `videos.youtube_id`" in out
    assert "-column videos.youtube_id · type: text" in out
    code, out = run(capsys, "requests", second, "--schema-diff", "--json")
    diff = json.loads(out)["diffs"][0]
    assert diff["verified"] and diff["sha256"] == event.data["sha256"]
    code, out = run(capsys, "requests", request_id, "--schema-diff")
    assert code == ExitCode.OK and "tables added" in out
    with sqlite3.connect(load_config().bot.state_path) as db:  # someone edits the stored diff
        db.execute("UPDATE schema_diffs SET body = replace(body, 'youtube_id', 'renamed')")
    code, out = run(capsys, "requests", second, "--schema-diff")
    assert code == ExitCode.FAILED
    assert "NOT VERIFIED: the stored diff does not hash to the event's sha256" in out
