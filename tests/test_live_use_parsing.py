"""What a migration breaks and what the application's statements use, read with pglast:
the pure half of the ``live_use`` check, on real SQL texts (pg_stat_statements' form)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.checks.breaking_changes import BreakingChange, ChangeKind, breaking_changes
from commands.checks.live_use_findings import (
    LiveUse,
    UsingStatement,
    how_used,
    match_statements,
    sentence,
)
from commands.checks.sql_names import SqlName
from commands.checks.sql_statements import parse_statements
from commands.checks.statement_uses import uses_of
from commands.postgres.statement_stats import StatementRow

VIDEOS = SqlName(None, "videos")
CATALOG = {
    "videos": frozenset({"id", "youtube_id", "title", "job_id"}),
    "segments": frozenset({"id", "video_id", "text"}),
    "jobs": frozenset({"id", "status"}),
}


def columns_of(name: SqlName) -> frozenset[str] | None:
    return CATALOG.get(name.name)


def no_default(_table: SqlName, _column: str) -> bool:
    return False


def changes(sql: str) -> list[tuple[str, str, str | None]]:
    found = breaking_changes(parse_statements("r", sql))
    return [(c.kind.value, c.subject, c.detail) for c in found]


def test_breaking_changes_are_read_from_the_revisions_sql() -> None:
    sql = """
    BEGIN;
    ALTER TABLE videos DROP COLUMN youtube_id, ALTER COLUMN title SET NOT NULL;
    ALTER TABLE public.jobs ALTER COLUMN status TYPE varchar(20) USING status::varchar;
    ALTER TABLE segments RENAME COLUMN text TO body;
    ALTER TABLE "Legacy" RENAME TO legacy_archive;
    DROP VIEW IF EXISTS reports.daily, weekly;
    DROP MATERIALIZED VIEW stats;
    DROP FUNCTION slugify(text);
    ALTER FUNCTION old_name(int) RENAME TO new_name;
    DROP TABLE old_things CASCADE;
    DROP INDEX idx_videos_created_at;
    CREATE INDEX idx_x ON videos (title);
    ALTER TABLE videos ADD COLUMN extra text;
    UPDATE alembic_version SET version_num='r' WHERE alembic_version.version_num = 'q';
    COMMIT;
    """
    assert changes(sql) == [
        ("column_dropped", "videos.youtube_id", None),
        ("not_null_added", "videos.title", None),
        ("type_changed", "public.jobs.status", "varchar(20)"),
        ("column_renamed", "segments.text", "body"),
        ("table_renamed", "Legacy", "legacy_archive"),
        ("view_dropped", "reports.daily", None),
        ("view_dropped", "weekly", None),
        ("view_dropped", "stats", None),
        ("function_dropped", "slugify()", None),
        ("function_renamed", "old_name()", "new_name"),
        ("table_dropped", "old_things", None),
    ]
    first = breaking_changes(parse_statements("4f1c7a9e2b87", sql))[0]
    assert first.key == "column_dropped:4f1c7a9e2b87:videos.youtube_id"
    assert first.statement_number == 1 and first.what == "is dropped"


def test_an_index_a_table_or_a_column_added_breaks_nothing() -> None:
    sql = """
    CREATE INDEX CONCURRENTLY idx_a ON videos (title);
    CREATE TABLE t (id int);
    ALTER TABLE videos ADD COLUMN c text;
    DROP INDEX idx_old;
    """
    assert changes(sql) == []


def columns(text: str) -> set[tuple[str, str | None, bool]]:
    uses = uses_of(text)
    assert uses is not None
    return {
        ("|".join(str(t) for t in use.candidates), use.column, use.writes) for use in uses.columns
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "SELECT v.youtube_id FROM videos v WHERE v.id = $1",
            {("videos", "youtube_id", False), ("videos", "id", False)},
        ),
        (
            'SELECT "youtube_id" FROM public.videos',
            {("public.videos", "youtube_id", False)},
        ),
        (
            "SELECT s.text, youtube_id FROM segments s JOIN videos v ON v.id = s.video_id",
            {
                ("segments", "text", False),
                ("segments|videos", "youtube_id", False),
                ("videos", "id", False),
                ("segments", "video_id", False),
            },
        ),
        ("SELECT * FROM videos LIMIT $1", {("videos", None, False)}),
        (
            "INSERT INTO videos (job_id, youtube_id) VALUES ($1, $2) RETURNING id",
            {("videos", "job_id", True), ("videos", "youtube_id", True), ("videos", "id", False)},
        ),
        ("INSERT INTO videos VALUES ($1, $2)", {("videos", None, True)}),
        (
            "UPDATE videos AS x SET title = $1 WHERE x.youtube_id = $2",
            {("videos", "title", True), ("videos", "youtube_id", False)},
        ),
        (
            "WITH recent AS (SELECT youtube_id FROM videos) SELECT youtube_id FROM recent",
            {("videos", "youtube_id", False)},
        ),
        (
            "SELECT count(*) FROM (SELECT youtube_id FROM videos) AS t",
            {("videos", "youtube_id", False)},
        ),
    ],
)
def test_column_references_are_resolved_through_aliases_and_scopes(
    text: str, expected: set[tuple[str, str | None, bool]]
) -> None:
    assert columns(text) == expected


def test_what_is_not_a_data_statement_is_not_the_applications() -> None:
    for text in (
        "ALTER TABLE videos DROP COLUMN youtube_id",
        "COPY public.videos (id, youtube_id) TO stdout",
        "EXPLAIN SELECT youtube_id FROM videos",
        "SELECT FROM WHERE",  # not even SQL
    ):
        assert uses_of(text) is None, text
    cursor = uses_of("DECLARE c CURSOR FOR SELECT youtube_id FROM videos")
    assert cursor is not None and cursor.relations == {VIDEOS}


def used(change: BreakingChange, text: str) -> tuple[bool, bool] | None:
    uses = uses_of(text)
    assert uses is not None
    return how_used(change, uses, columns_of, no_default)


def test_a_change_matches_the_statements_that_would_break() -> None:
    dropped = BreakingChange(ChangeKind.COLUMN_DROPPED, "r", 1, VIDEOS, "youtube_id")
    assert used(dropped, "SELECT v.youtube_id FROM videos v") == (True, False)
    assert used(dropped, "SELECT youtube_id FROM public.videos") == (True, False)
    assert used(dropped, "UPDATE videos SET youtube_id = $1") == (False, True)
    assert used(dropped, "SELECT * FROM videos") == (True, False)
    assert used(dropped, "SELECT title FROM videos") is None
    assert used(dropped, "SELECT youtube_id FROM other.videos") is not None  # same name
    assert used(dropped, "SELECT youtube_id FROM archive") is None
    # an unqualified column in a join is the table's that has it, by the catalog
    join = "SELECT s.text, youtube_id FROM segments s JOIN videos v ON v.id = s.video_id"
    assert used(dropped, join) == (True, False)
    correlated = (
        "SELECT id FROM videos WHERE EXISTS"
        " (SELECT 1 FROM segments WHERE segments.video_id = videos.id AND youtube_id = $1)"
    )
    assert used(dropped, correlated) == (True, False)

    not_null = BreakingChange(ChangeKind.NOT_NULL_ADDED, "r", 1, VIDEOS, "title")
    assert used(not_null, "SELECT title FROM videos") is None  # reading is fine
    assert used(not_null, "UPDATE videos SET title = $1") == (False, True)
    assert used(not_null, "INSERT INTO videos (job_id) VALUES ($1)") == (False, True)
    uses = uses_of("INSERT INTO videos (job_id) VALUES ($1)")
    assert uses is not None
    assert how_used(not_null, uses, columns_of, lambda _t, _c: True) is None  # it has a default

    table = BreakingChange(ChangeKind.TABLE_RENAMED, "r", 1, VIDEOS, None, "films")
    assert used(table, "DELETE FROM videos WHERE id = $1") == (False, True)
    assert used(table, "SELECT 1 FROM jobs") is None
    function = BreakingChange(ChangeKind.FUNCTION_DROPPED, "r", 1, SqlName(None, "slugify"))
    assert used(function, "SELECT slugify(title) FROM videos") == (True, False)


def test_the_sentence_gives_the_counts_the_start_and_what_last_seen_means() -> None:
    since = datetime(2026, 5, 12, 14, 2, tzinfo=UTC)
    change = BreakingChange(ChangeKind.COLUMN_DROPPED, "4f1c7a9e2b87", 1, VIDEOS, "youtube_id")
    rows = [
        (StatementRow("1", "SELECT youtube_id FROM videos", 1000, 50.0, ("app",), since), 12),
        (StatementRow("2", "SELECT v.youtube_id FROM videos v", 200, 9.0, ("app",), since), 0),
        (StatementRow("3", "SELECT youtube_id FROM videos v, jobs", 4, 1.0, ("app",)), 0),
    ]
    found = LiveUse(change, tuple(UsingStatement(r, True, False, w) for r, w in rows))
    text = sentence(found, stats_reset=None, window_s=2.0)
    assert text == (
        "`videos.youtube_id` is dropped by `4f1c7a9e2b87`, but the application ran 3"
        " statements reading it 1,204 times since 2026-05-12 14:02 UTC"
        " (last seen: now, 12 calls in the 2.0 s the bot watched)"
    )
    quiet = LiveUse(change, (UsingStatement(rows[1][0], True, False, 0),))
    assert "(last seen: not in the 2.0 s the bot watched; pg_stat_statements keeps no time" in (
        sentence(quiet, stats_reset=None, window_s=2.0)
    )


def test_changes_nobody_uses_are_left_out() -> None:
    dropped = BreakingChange(ChangeKind.COLUMN_DROPPED, "r", 1, VIDEOS, "youtube_id")
    renamed = BreakingChange(ChangeKind.COLUMN_RENAMED, "r", 2, VIDEOS, "title", "name")
    row = StatementRow("1", "SELECT youtube_id FROM videos", 3, 1.0, ("app",))
    uses = uses_of(row.query)
    assert uses is not None
    found = match_statements([dropped, renamed], [(row, uses)], columns_of, no_default)
    assert [f.change for f in found] == [dropped]
