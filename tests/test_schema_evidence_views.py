"""Schema evidence as Slack draws it and as the audit record keeps it: pure, on schemas
built here (the catalog reader is tested on PostgreSQL in test_schema_drift.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.views.limits import modal_problems, problems
from bot.views.schema_evidence import (
    drift_change_message,
    drift_modal,
    fleet_drift_message,
    home_drift_lines,
    schema_changes_line,
    schema_changes_modal,
)
from commands.schema.compare import compare
from commands.schema.ddl import ddl
from commands.schema.drift_log import DriftCheck, DriftStatus
from commands.schema.drift_report import DriftReport, DriftState
from commands.schema.model import Kind, Schema, SchemaObject
from commands.schema.run_diff import SchemaChanges, schema_changes

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def table(name: str, status_type: str = "character varying(20)") -> list[SchemaObject]:
    return [
        SchemaObject(Kind.TABLE, "public", name),
        SchemaObject(
            Kind.COLUMN,
            "public",
            "status",
            name,
            {"type": status_type, "nullable": "NOT NULL", "position": "1"},
        ),
        SchemaObject(
            Kind.INDEX,
            "public",
            f"ix_{name}_status",
            name,
            {"definition": f"CREATE INDEX ix_{name}_status ON public.{name} USING btree (status)"},
        ),
    ]


def wide(count: int, status_type: str = "character varying(20)") -> Schema:
    return Schema.of(obj for n in range(count) for obj in table(f"t{n:03d}", status_type))


def test_a_run_diff_says_what_changed_and_survives_its_record() -> None:
    before = Schema.of(table("jobs"))
    after = Schema.of([*table("jobs", "text"), *table("videos")])
    changes = schema_changes(before, after)
    assert changes.summary() == "1 table added, 1 table changed"
    assert changes.lines() == [  # what comes with the new table is its table's news
        "+ table `videos`",
        "~ column `jobs.status`: type `varchar(20)` → `text`",
    ]
    unified = changes.unified()
    assert "-column jobs.status · type: character varying(20)" in unified
    assert "+column jobs.status · type: text" in unified
    again = SchemaChanges.from_json(changes.to_json())
    assert again == changes and again.sha256() == changes.sha256()
    assert schema_changes_line(changes) == "Schema: 1 table added, 1 table changed"
    index = SchemaObject(Kind.INDEX, "public", "ix_jobs_x", "jobs", {"definition": "CREATE …"})
    added = schema_changes(after, Schema.of([*after.objects.values(), index]))
    assert added.lines() == ["+ index `ix_jobs_x` on `jobs`"]
    assert added.summary() == "1 index added"


def test_the_schema_changes_modal_pages_a_long_diff_within_block_kit() -> None:
    changes = schema_changes(Schema.of(()), wide(300))
    assert changes.summary() == "300 tables added"
    first = schema_changes_modal(changes, request_id="M-12")
    assert not modal_problems(first) and first["private_metadata"] == "M-12"
    pages = int(first["blocks"][-2]["elements"][0]["text"].rsplit(" ", 1)[-1])
    assert pages > 1
    buttons = [e["text"]["text"] for e in first["blocks"][-1]["elements"]]
    assert buttons == ["Next"]
    middle = schema_changes_modal(changes, request_id="M-12", page=2)
    assert [e["value"] for e in middle["blocks"][-1]["elements"]][:1] == ["1"]
    last = schema_changes_modal(changes, request_id="M-12", page=pages)
    assert not modal_problems(last)
    assert [e["text"]["text"] for e in last["blocks"][-1]["elements"]] == ["Previous"]


def drifted(count: int) -> DriftReport:
    comparison = compare(wide(count, "text"), wide(count))
    return DriftReport(
        "prod",
        DriftState.DRIFTED,
        ("4f1c7a9e2b87",),
        NOW,
        comparison.differences,
        tuple(ddl(comparison)),
    )


def test_the_drift_modal_shows_each_difference_and_the_ddl_within_block_kit() -> None:
    report = drifted(200)
    assert report.lines[0] == (
        "column `t000.status` is `text` in the database, `varchar(20)` in the history"
    )
    modal = drift_modal(report, title_id="M-12")
    assert not modal_problems(modal)
    text = str(modal)
    assert "DRIFTED: 200 differences from the history at 4f1c7a9e2b87" in text
    assert "ALTER TABLE public.t000 ALTER COLUMN status TYPE character varying(20)" in text


def test_a_drift_change_for_ops_app_home_and_a_fleet_fit_slack() -> None:
    previous = DriftStatus("prod", DriftState.OK, 0, "d", NOW, NOW)
    check = DriftCheck(drifted(30), NOW, True, previous)
    text, blocks = drift_change_message(check)
    assert text.startswith("⚠️ Schema drift on prod: DRIFTED: 30 differences")
    assert "(was ok since 07 Dec 06:00 UTC)" in text and not problems(blocks)
    assert "… and 20 more" in str(blocks)
    text, blocks = fleet_drift_message("tenants", "1 of 40 members drifted: t07 (30)", [check])
    assert text == "Schema drift on fleet tenants: 1 of 40 members drifted: t07 (30)"
    assert not problems(blocks)
    lines = home_drift_lines(
        {"prod": DriftStatus("prod", DriftState.DRIFTED, 2, "d", NOW, NOW), "demo": previous}
    )
    assert lines == [
        "✅ `demo` OK since 07 Dec 06:00 UTC · checked 07 Dec 06:00 UTC",
        "⚠️ `prod` DRIFTED (2 differences) since 07 Dec 06:00 UTC · checked 07 Dec 06:00 UTC",
    ]
