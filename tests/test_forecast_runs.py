"""The forecast against what really ran: a rehearsal and a run scored into the audit log, the next
request's forecast calibrated on them, and the report over time (real PostgreSQL, real Alembic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bot.metrics.audit_metrics import AuditMetrics
from bot.views.announcements import outcome_thread
from commands.checks.forecast.classes import WorkKind
from commands.checks.forecast.learned import learned_rates
from commands.checks.forecast.model import Forecast, Span
from commands.checks.forecast.recording import recorded_forecast
from commands.checks.forecast.scoring import MIN_SAMPLE_BYTES, Score, ScoredRevision
from commands.checks.preflight import PREFLIGHT_CHECKS, run_preflight
from commands.pipeline import propose
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind, RequestKind
from commands.targets import open_target
from tests.support.alembic_projects import Rev
from tests.support.pipeline_support import REQUESTER, pipeline_target

FORECAST_ONLY = tuple(check for check in PREFLIGHT_CHECKS if check.name == "forecast")
ROWS = 160_000  # ~400 bytes each, ~70 MB: its rewrite outweighs the fixed costs 3x over, idle
WIDE_TABLE = (
    "CREATE TABLE wide (id int PRIMARY KEY, body text);"
    f" INSERT INTO wide SELECT i, repeat(md5(i::text), 12) FROM generate_series(1, {ROWS}) i;"
    " ANALYZE wide"
)
REWRITE = Rev(
    id="retype2",
    up_sql=("ALTER TABLE wide ALTER COLUMN id TYPE bigint",),
    down_sql=("ALTER TABLE wide ALTER COLUMN id TYPE int",),
    message="widen wide.id (a rewrite)",
)


def test_a_rehearsal_is_scored_and_teaches_the_next_forecast(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    with connect(fresh_db) as conn:  # the application's table, there before the project
        conn.execute(WIDE_TABLE)
    target = pipeline_target(tmp_path, fresh_db, [REWRITE], "rehearse = true\n")
    handle = open_target(target.config.target("app"))
    proposal = propose(
        target.context(), kind=RequestKind.UPGRADE, target="app", goal=None, requester=REQUESTER
    )

    events = target.store.events(kinds=[EventKind.FORECAST_SCORED])
    assert [e.request_id for e in events] == [proposal.request.id]
    scored = Score.from_json(events[0].data)
    assert scored.source == "rehearsal"
    assert [r.revision for r in scored.revisions] == ["retype2"]
    assert scored.revisions[0].forecast is not None and scored.revisions[0].actual > 0
    assert [s.kind for s in scored.samples] == [WorkKind.REWRITE]
    assert scored.samples[0].bytes >= MIN_SAMPLE_BYTES

    learned = learned_rates(target.store, "app")
    rate = learned.rates[WorkKind.REWRITE]
    assert rate.samples == 1 and rate.seconds_per_gb == pytest.approx(
        scored.samples[0].seconds_per_gb
    )
    report = run_preflight(handle, checks=FORECAST_ONLY, learned=learned)
    forecast = Forecast.from_json(report.result("forecast").data)
    assert forecast.basis == "calibrated on 1 rehearsal on app"
    assert forecast.rates["rewrite"] == pytest.approx(rate.seconds_per_gb, rel=1e-3)


def test_metrics_expose_how_far_from_the_forecast_revisions_ran(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """One revision took twice its forecast, one a third of it, one too short to judge."""
    target = pipeline_target(tmp_path, fresh_db, [REWRITE])
    revisions = (
        ScoredRevision("a", Span(10.0, 5.0, 20.0), 20.0),
        ScoredRevision("b", Span(30.0, 15.0, 60.0), 10.0),
        ScoredRevision("c", Span(0.1, 0.05, 0.2), 0.4),
    )
    target.store.append(
        kind=EventKind.FORECAST_SCORED,
        actor="migrate-bot",
        target="app",
        data=Score("run", revisions, ()).to_json(),
    )
    registry = CollectorRegistry()
    registry.register(AuditMetrics(target.store, target.requests))
    text = generate_latest(registry).decode()
    labels = 'source="run",target="app"'
    assert f"migrate_bot_forecast_ratio_count{{{labels}}} 2.0" in text
    assert f'migrate_bot_forecast_ratio_bucket{{le="0.5",{labels}}} 1.0' in text
    assert f'migrate_bot_forecast_ratio_bucket{{le="2.0",{labels}}} 2.0' in text


def test_a_run_is_scored_against_the_forecast_the_approver_saw(
    tmp_path: Path, fresh_db: DatabaseUrl
) -> None:
    """The request's recorded forecast, the revision's actual time, a ``forecast_scored`` event
    beside ``run_finished``, the outcome's thread lines, and the next forecast learning from it."""
    with connect(fresh_db) as conn:
        conn.execute(WIDE_TABLE)
    target = pipeline_target(tmp_path, fresh_db, [REWRITE])
    proposal = target.approved()
    seen = recorded_forecast(proposal.request.preflight.checks)
    assert seen is not None and seen.revisions[0].statements[0].effect.value == "rewrites"
    outcome = target.run(proposal.request.id)
    assert outcome.succeeded and outcome.forecast is not None

    events = target.store.events(
        request_id=proposal.request.id, kinds=[EventKind.RUN_FINISHED, EventKind.FORECAST_SCORED]
    )
    assert [e.kind for e in events] == ["run_finished", "forecast_scored"]
    scored = Score.from_json(events[1].data)
    assert scored.source == "run" and [r.revision for r in scored.revisions] == ["retype2"]
    assert scored.revisions[0].forecast == seen.revisions[0].time
    assert scored.revisions[0].actual == pytest.approx(outcome.applied[0].duration_s, abs=1e-4)
    assert [s.kind for s in scored.samples] == [WorkKind.REWRITE]

    _, blocks = outcome_thread(outcome)
    thread = "\n".join(b["text"]["text"] for b in blocks if "text" in b)
    assert "*Forecast vs actual* 1 revision took " in thread
    assert re.search(r"• `retype2` widen wide.id \(a rewrite\) — .+ · forecast .+: x\d", thread)
    assert learned_rates(target.store, "app").basis == "calibrated on 1 past run on app"
