"""The audit and request commands end to end, the file as other tools see it, and
secrets stopped at the store's door."""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from commands.config.targets_file import Config
from commands.errors import ExitCode
from commands.requests import RequestService
from commands.state.people import PeopleDirectory
from commands.state.vocabulary import EventKind
from tests.support.request_helpers import (
    APPROVER,
    fingerprint,
    make_service,
    new_request,
    ready_for_approval,
    write_config,
)

SECRETS = {
    "url password": "postgresql://app:Sup3rSecretPw@db.internal:5432/prod",
    "slack token": "xoxb-1234567890-abcdefghijklmnop",
    "aws key id": "AKIAIOSFODNN7EXAMPLE",
    "conninfo password": "host=db password=hunter2hunter2 dbname=prod",
}
LEAKS = ("Sup3rSecretPw", "xoxb-1234567890-abcdefghijklmnop", "AKIAIOSFODNN7EXAMPLE", "hunter2")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("MIGRATE_BOT_CONFIG", str(tmp_path / "migrate-bot.toml"))
    return write_config(tmp_path)


@pytest.fixture
def service(config: Config) -> RequestService:
    service = make_service(config)
    first = ready_for_approval(service)
    service.approve(first.id, approver=APPROVER)
    service.start_run(first.id, actor="migrate-bot", fingerprint_now=fingerprint())
    new_request(service, reason="second one")
    return service


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_audit_reads_as_sentences_with_names_by_default(
    capsys: pytest.CaptureFixture[str], service: RequestService, config: Config
) -> None:
    people = PeopleDirectory(config.bot.state_path)
    people.remember(APPROVER, "bob")  # as the Slack front records the names it is given
    people.close()
    code, out, _ = run(capsys, "audit", "--request", "M-1")
    lines = out.splitlines()
    assert code == ExitCode.OK and lines[0].split() == [
        "time",
        "(UTC)",
        "req",
        "target",
        "who",
        "what",
    ]
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  M-1 +prod +\S+ +asked to upgrade prod", out, re.M
    )
    assert re.search(r"  M-1 +prod +bob +approved$", out, re.M)
    assert re.search(r"  M-1 +prod +migrate-bot +run started$", out, re.M)
    code, out, _ = run(capsys, "requests", "M-1")
    assert f"approved by bob ({APPROVER})" in out


def test_audit_lists_the_newest_events_and_filters(
    capsys: pytest.CaptureFixture[str], service: RequestService
) -> None:
    total = len(service.store.events())
    code, out, _ = run(capsys, "audit", "--limit", "3", "--full")
    lines = out.splitlines()
    assert code == ExitCode.OK and len(lines) == 4 and lines[0].split()[:2] == ["seq", "time"]
    assert [int(line.split()[0]) for line in lines[1:]] == [total - 2, total - 1, total]

    code, out, _ = run(capsys, "audit", "--request", "m-1", "--json")
    events = json.loads(out)
    assert {e["request_id"] for e in events} == {"M-1"}
    assert [e["kind"] for e in events][-2:] == ["approval_granted", "run_started"]
    assert events[-2]["data"]["fingerprint"] == fingerprint().digest

    code, out, _ = run(capsys, "audit", "--target", "nowhere")
    assert (code, out) == (ExitCode.OK, "no events\n")
    code, _, err = run(capsys, "audit", "--request", "42; DROP TABLE events")
    assert code == ExitCode.BAD_INPUT and "is not a request id" in err


def test_export_writes_every_event_as_json_or_csv(
    capsys: pytest.CaptureFixture[str], service: RequestService, tmp_path: Path
) -> None:
    stored = service.store.events()
    code, out, _ = run(capsys, "audit", "export", "--format", "json")
    exported = json.loads(out)
    assert code == ExitCode.OK and [e["seq"] for e in exported] == [e.seq for e in stored]
    assert exported[0]["data"]["origin"] == {"channel": "C0OPS", "ts": "1710000000.000100"}
    assert exported[-1]["hash"] == stored[-1].hash

    target = tmp_path / "audit.csv"
    assert run(capsys, "audit", "export", "--format", "csv", "-o", str(target))[0] == ExitCode.OK
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == len(stored) and rows[4]["kind"] == stored[4].kind
    assert json.loads(rows[0]["data"])["kind"] == "upgrade"


def test_requests_list_and_show(
    capsys: pytest.CaptureFixture[str], service: RequestService
) -> None:
    code, out, _ = run(capsys, "requests")
    first_line, second_line = out.splitlines()
    assert code == ExitCode.OK
    assert first_line.startswith("M-2") and "requested" in first_line
    assert second_line.startswith("M-1") and "running" in second_line

    code, out, _ = run(capsys, "requests", "M-1")
    assert "M-1 is already running (started by migrate-bot" in out
    assert "approved by U0BOB" in out and "✓ Rollback plan prepared — U0ALICE" in out
    code, out, _ = run(capsys, "requests", "--state", "running", "--json")
    [shown] = json.loads(out)
    assert shown["id"] == "M-1" and shown["approvals"][0]["approver"] == APPROVER
    code, _, err = run(capsys, "requests", "M-9")
    assert code == ExitCode.BAD_INPUT and err == "error: There is no request M-9.\n"


def test_freeze_from_the_terminal_is_break_glass_and_refuses_runs(
    capsys: pytest.CaptureFixture[str], service: RequestService
) -> None:
    code, out, _ = run(capsys, "freeze", "prod", "--reason", "incident INC-7")
    assert code == ExitCode.OK and "prod is frozen" in out
    [frozen] = service.store.events(kinds=[EventKind.TARGET_FROZEN])
    assert frozen.actor == f"os:{getpass.getuser()}" and frozen.data["break_glass"] is True
    code, _, err = run(capsys, "freeze", "prod", "--reason", "again")
    assert code == ExitCode.REFUSED and "already frozen" in err and "INC-7" in err
    assert run(capsys, "unfreeze", "prod")[0] == ExitCode.OK
    code, _, err = run(capsys, "unfreeze", "prod")
    assert code == ExitCode.REFUSED and "prod is not frozen" in err
    code, _, err = run(capsys, "freeze", "staging", "--reason", "x")
    assert code == ExitCode.BAD_INPUT and "unknown target 'staging'" in err


def test_no_log_yet_is_said_plainly(capsys: pytest.CaptureFixture[str], config: Config) -> None:
    code, _, err = run(capsys, "audit", "verify")
    assert code == ExitCode.BAD_INPUT and "there is no audit log at" in err
    assert not config.bot.state_path.exists()


def test_the_file_is_plain_sqlite_for_sqlite_utils(service: RequestService, config: Config) -> None:
    tool = str(Path(sys.executable).with_name("sqlite-utils"))
    path = str(config.bot.state_path)
    tables = subprocess.run(
        [tool, "tables", path, "--counts"], capture_output=True, text=True, check=True
    )
    count = len(service.store.events())
    found = {table["table"]: table["count"] for table in json.loads(tables.stdout)}
    assert found.pop("events") == count
    # beside the events only projections, folded from them: what each knows up to
    assert found.pop("projections") == len(found) and "request_index" in found
    query = "select request_id, json_extract(data, '$.fingerprint') as fp from events"
    rows = subprocess.run(
        [tool, "query", path, query + " where kind = 'approval_granted'"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(rows.stdout) == [{"request_id": "M-1", "fp": fingerprint().digest}]


def test_secrets_never_reach_the_file(
    capsys: pytest.CaptureFixture[str], config: Config, tmp_path: Path
) -> None:
    service = make_service(config)
    request = new_request(
        service,
        reason=f"from {SECRETS['url password']}",
        origin={"note": SECRETS["slack token"], "aws": SECRETS["aws key id"]},
    )
    service.record_preflight(
        request.id,
        actor="migrate-bot",
        passed=False,
        summary=f"cannot connect: {SECRETS['conninfo password']}",
        checks=[{"name": "connect", "detail": SECRETS["url password"]}],
    )
    service.cancel(request.id, actor="U0ALICE", reason=f"AWS_SECRET_ACCESS_KEY={'k' * 40}")
    assert run(capsys, "audit", "export", "-o", str(tmp_path / "export.json"))[0] == ExitCode.OK
    shown = run(capsys, "requests", request.id)[1] + run(capsys, "audit", "--json")[1]

    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for leak in (*LEAKS, "k" * 40):
        assert leak.encode() not in written and leak not in shown
    stored = service.get(request.id)
    assert stored.reason == "from postgresql://app:***@db.internal:5432/prod"
    assert stored.origin == {"note": "***", "aws": "***"}
    assert b"db.internal" in written  # the rest of the text is kept


def test_every_event_kind_is_documented() -> None:
    reference = (Path(__file__).parent.parent / "docs" / "audit-log.md").read_text()
    missing = [kind.value for kind in EventKind if f"| `{kind.value}` |" not in reference]
    assert not missing, f"docs/audit-log.md lacks: {missing}"


def test_the_default_listing_says_what_happened_never_a_raw_payload() -> None:
    """Events whose data hold counters (the watch's samples, its report) read as sentences;
    a kind without one shows its plain fields and only counts what is nested."""
    from datetime import UTC, datetime

    from audit.chain import Event
    from bot.cli.audit_summary import summary_line
    from commands.pipeline.watch_failures import Failures
    from commands.pipeline.watch_report import SINCE_RESET, Before, WatchReport
    from commands.postgres.database_activity import DatabaseActivity

    at = datetime(2030, 1, 1, tzinfo=UTC)
    report = WatchReport(
        "M-2",
        "demo",
        at,
        at,
        30.0,
        Before(SINCE_RESET, None, at, {}, {}),
        3,
        failures=Failures(DatabaseActivity(40, 300, 0, 0), 30.0, DatabaseActivity(), 10.0),
    )
    statements = {"-1037622129068350452": [1, 5.0], "77": [3, 1.0]}
    events = {
        EventKind.WATCH_SAMPLED: {"at": at.isoformat(), "statements": statements, "tables": {}},
        EventKind.WATCH_FINISHED: report.to_json(),
        "member_step": {"member": "acme", "detail": {"nested": [1, 2]}},
    }
    lines = []
    for seq, (kind, data) in enumerate(events.items()):
        event = Event(seq, at.isoformat(), "M-2", "demo", "migrate-bot", kind, data, "", "")
        lines.append(summary_line(event, {}))
    sampled, finished, other = lines
    assert sampled.endswith("sampled the application's statements before the run (2)")
    assert finished.endswith(
        "watch ended: application errors: 300 transaction(s) rolled back (none before the run)"
    )
    assert other.endswith("member_step member=acme detail=(1 entries)")
    assert not any("{" in line or "-1037622129068350452" in line for line in lines)
