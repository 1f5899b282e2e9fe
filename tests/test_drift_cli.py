"""``migrate-bot drift`` on a real PostgreSQL: a target, a fleet, the log's record of each
check and of each change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bot.cli import main
from bot.metrics.audit_metrics import AuditMetrics
from commands.config.targets_file import Config, load_config
from commands.errors import ExitCode
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests import open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind
from commands.targets import open_target
from tests.support.checks_support import HEAD, upgrade
from tests.support.fleet_support import Fleet, fleet_here

DROPPED = "index `idx_videos_created_at` exists in the history but not in the database"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("config_file")
def test_drift_says_ok_then_the_hand_made_change_once_with_its_ddl(
    fresh_db: DatabaseUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade(open_target(load_config().target("app")))
    code, out = run(capsys, "drift", "app")
    assert code == ExitCode.OK, out
    assert f"app: OK: the schema matches the history at {HEAD}" in out
    assert "first check; ok since" in out
    with connect(fresh_db) as conn:
        conn.execute("DROP INDEX idx_videos_created_at")
    code, out = run(capsys, "drift", "app")
    assert code == ExitCode.FAILED
    assert f"app: DRIFTED: 1 difference from the history at {HEAD}" in out
    assert f"  - {DROPPED}" in out
    assert "CREATE INDEX idx_videos_created_at ON public.videos USING btree (created_at);" in out
    assert "changed since the last check (ok); the ops channel is told" in out
    code, out = run(capsys, "drift", "app", "--json")
    check = json.loads(out)["checks"][0]
    assert code == ExitCode.FAILED
    assert (check["state"], check["changed"], check["lines"]) == ("drifted", False, [DROPPED])
    store = open_audit_log(load_config().bot.state)
    events = store.events(kinds=[EventKind.DRIFT_CHECKED])
    store.close()
    assert [(e.data["state"], e.data["changed"]) for e in events] == [
        ("ok", True),
        ("drifted", True),
        ("drifted", False),
    ]
    assert events[2].data["since"] == events[1].data["since"]
    scraped = scrape_metrics(load_config())
    assert 'migrate_bot_schema_drift{target="app"} 1.0' in scraped
    assert 'migrate_bot_schema_drift_checked_timestamp_seconds{target="app"}' in scraped


def scrape_metrics(config: Config) -> str:
    """What ``/metrics`` would say of the drift recorded in ``config``'s state."""
    store = open_audit_log(config.bot.state)
    registry = CollectorRegistry()
    registry.register(AuditMetrics(store, open_requests(config)))
    try:
        return generate_latest(registry).decode()
    finally:
        store.close()


@pytest.fixture
def fleet(
    pg_server: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    with fleet_here(tmp_path, pg_server, ("acme", "globex", "initech"), monkeypatch) as made:
        yield made


# Long case (drift on one target runs in CI; each fleet member is the same check).
@pytest.mark.slow
def test_drift_on_a_fleet_checks_every_member_and_sums_them_up(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    for member in fleet.members:
        for revision in ("accounts", "invoices", "payments"):
            fleet.move(member, revision)
    fleet.execute("globex", "CREATE INDEX ix_payments_id ON payments (id)")
    code, out = run(capsys, "drift", "tenants")
    assert code == ExitCode.FAILED
    assert out.startswith("1 of 3 members drifted: globex (1 difference)\n")
    assert "tenants.acme: OK" in out and "tenants.initech: OK" in out
    assert "index `ix_payments_id` exists in the database but not in the history" in out
