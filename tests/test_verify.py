"""Verification after a run, and what a failed revision left behind, on a real PostgreSQL."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from commands.checks import (
    CatalogSnapshot,
    Verdict,
    detect_partial_application,
    snapshot_catalog,
    verify_after_run,
)
from commands.errors import AlembicError
from commands.migration.planning import plan
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from tests.support.alembic_projects import Rev, write_project
from tests.support.checks_support import (
    RISKY,
    copy_database,
    handle_for,
    upgrade,
)
from tests.support.databases import drop_database

TSV_TABLE = Rev(
    id="base1",
    message="segments with a tsv trigger",
    up_sql=(
        "CREATE TABLE segments (id int PRIMARY KEY, text text, tsv tsvector)",
        "CREATE FUNCTION segments_tsv_update() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN NEW.tsv := to_tsvector('english', coalesce(NEW.text, '')); RETURN NEW; END $$",
        "CREATE TRIGGER segments_tsv_trigger BEFORE INSERT OR UPDATE ON segments"
        " FOR EACH ROW EXECUTE FUNCTION segments_tsv_update()",
        "INSERT INTO segments SELECT g, 'talk ' || g FROM generate_series(1, 50) g",
    ),
    down_sql=("DROP TABLE segments", "DROP FUNCTION segments_tsv_update()"),
)


def run_to(handle, to: str) -> tuple[object, CatalogSnapshot]:
    """Plan to ``to``, snapshot, apply: the pipeline's order."""
    planned = plan(handle, to=to)
    before = snapshot_catalog(handle.database, watch_tables=handle.config.watch_tables)
    upgrade(handle, to)
    return planned, before


def test_bundled_risky_revision_verifies_and_the_diff_says_what_changed(
    pg_server: DatabaseUrl, before_risky_db: DatabaseUrl, tmp_path: Path
) -> None:
    copy = copy_database(pg_server, before_risky_db)
    handle = handle_for(copy, tmp_path, extra='watch_tables = ["jobs", "segments"]')
    try:
        planned, before = run_to(handle, RISKY)
        report = verify_after_run(handle, planned, before)
    finally:
        drop_database(pg_server, copy)
    assert report.verdict is Verdict.PASS, report.to_json()
    assert report.result("revision").summary == f"at {RISKY}, as planned"
    catalog = report.result("catalog")
    assert catalog.summary == "2 added, 0 removed, 0 changed"
    assert "+ index idx_segments_video_start on public.segments" in catalog.details
    assert "+ constraint jobs_status_check on public.jobs" in catalog.details
    assert report.rollback == ()


def test_a_dropped_trigger_shows_in_the_diff_and_an_unexpected_one_fails(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "project",
        [
            TSV_TABLE,
            Rev(
                id="drop1",
                down=("base1",),
                message="drop the trigger on purpose",
                up_sql=("DROP TRIGGER IF EXISTS segments_tsv_trigger ON segments",),
                down_sql=("SELECT 1",),
            ),
            Rev(
                id="cascade1",
                down=("base1",),
                message="replace the function (takes the trigger with it)",
                up_sql=("DROP FUNCTION segments_tsv_update() CASCADE",),
                down_sql=("SELECT 1",),
            ),
        ],
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    upgrade(handle, "base1")
    planned, before = run_to(handle, "drop1")
    report = verify_after_run(handle, planned, before)
    catalog = report.result("catalog")
    assert catalog.verdict is Verdict.PASS
    assert catalog.details == ("- trigger segments_tsv_trigger on public.segments",)

    with connect(fresh_db) as conn:  # back to the trigger in place, on the other branch
        conn.execute("DELETE FROM alembic_version")
        conn.execute("INSERT INTO alembic_version VALUES ('base1')")
        conn.execute(
            "CREATE TRIGGER segments_tsv_trigger BEFORE INSERT OR UPDATE ON segments"
            " FOR EACH ROW EXECUTE FUNCTION segments_tsv_update()"
        )
    planned, before = run_to(handle, "cascade1")
    report = verify_after_run(handle, planned, before)
    catalog = report.result("catalog")  # the database is fine: a warning, not a failed run
    assert catalog.verdict is Verdict.WARN and not report.blocks
    assert catalog.summary.startswith(
        "trigger segments_tsv_trigger on public.segments removed (not predicted: cascade1 runs"
    )
    assert (
        "- trigger segments_tsv_trigger on public.segments:"
        " UNEXPECTED, no statement of the migration drops it"
    ) in catalog.details


def test_watched_rows_health_url_and_smoke_sql(fresh_db: DatabaseUrl, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "project",
        [
            TSV_TABLE,
            Rev(
                id="purge1",
                down=("base1",),
                up_sql=("DELETE FROM segments WHERE id > 10",),
                down_sql=("SELECT 1",),
            ),
        ],
    )
    with serve_status(200) as healthy, serve_status(503) as sick:
        extra = f"""
            watch_tables = ["segments"]
            health_url = "{healthy}"
            smoke_sql = ["SELECT count(*) FROM segments", "SELECT nope FROM segments"]
        """
        handle = handle_for(fresh_db, tmp_path, script_location=project, extra=extra)
        upgrade(handle, "base1")
        planned, before = run_to(handle, "purge1")
        report = verify_after_run(handle, planned, before)
        rows = report.result("row_counts")
        assert rows.verdict is Verdict.FAIL and rows.details == ("segments: 50 -> 10",)
        assert report.result("health").verdict is Verdict.PASS
        assert "answered 200" in report.result("health").summary
        smoke = report.result("smoke_sql")
        assert smoke.verdict is Verdict.FAIL and smoke.summary == "1 of 2 statement(s) failed"
        assert smoke.details[1].startswith("FAILED: SELECT nope FROM segments: column")

        sick_handle = handle_for(
            fresh_db, tmp_path, script_location=project, extra=f'health_url = "{sick}"'
        )
        sick_report = verify_after_run(sick_handle, planned, before)
        assert sick_report.result("health").verdict is Verdict.FAIL
        assert "answered 503" in sick_report.result("health").summary


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class serve_status:
    """A real HTTP server on 127.0.0.1 answering every GET with ``status``."""

    def __init__(self, status: int) -> None:
        handler = type("Handler", (_StatusHandler,), {"status": status})
        self.server = http.server.HTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/health"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


UNIQUE_CONCURRENTLY = '''
def upgrade() -> None:
    """Enforce unique codes without blocking writes."""
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE codes ADD COLUMN IF NOT EXISTS checked boolean")
        op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_codes_code ON codes (code)")


def downgrade() -> None:
    """Drop the index and the column."""
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS idx_codes_code")
    op.execute("ALTER TABLE codes DROP COLUMN IF EXISTS checked")
'''


@pytest.fixture
def failed_concurrent_build(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> Iterator[tuple[object, object, CatalogSnapshot]]:
    """A unique index built CONCURRENTLY over duplicate values: the build fails, INVALID."""
    project = write_project(
        tmp_path / "project",
        [
            Rev(
                id="codes1",
                up_sql=(
                    "CREATE TABLE codes (id int PRIMARY KEY, code text)",
                    "INSERT INTO codes VALUES (1, 'a'), (2, 'a'), (3, 'b')",
                ),
                down_sql=("DROP TABLE codes",),
            ),
            Rev(id="unique1", down=("codes1",), message="unique codes", body=UNIQUE_CONCURRENTLY),
        ],
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    upgrade(handle, "codes1")
    planned = plan(handle, to="unique1")
    before = snapshot_catalog(fresh_db)
    with pytest.raises(AlembicError) as failed:
        upgrade(handle, "unique1")
    assert failed.value.sqlstate == "23505"  # unique_violation
    yield handle, planned, before


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_detected(
    failed_concurrent_build: tuple,
) -> None:
    handle, planned, before = failed_concurrent_build
    partial = detect_partial_application(handle, planned.revisions[0], before=before)
    assert not partial.stamped and partial.uses_autocommit_block
    left = {o.key: o for o in partial.leftovers}
    assert set(left) == {"public.idx_codes_code", "public.codes.checked"}
    index = left["public.idx_codes_code"]
    assert index.what.startswith("INVALID index public.idx_codes_code on public.codes")
    assert "IF NOT EXISTS would skip it on a retry" in index.what
    assert index.fix == "DROP INDEX CONCURRENTLY public.idx_codes_code; then retry"
    assert left["public.codes.checked"].fix.startswith("none needed")  # ADD COLUMN IF NOT EXISTS
    result = partial.result()
    assert result.verdict is Verdict.FAIL
    assert "1 must be fixed before a retry" in result.summary

    report = verify_after_run(handle, planned, before)
    assert report.result("revision").verdict is Verdict.FAIL
    invalid = report.result("invalid_indexes")
    assert invalid.verdict is Verdict.FAIL and "public.idx_codes_code" in invalid.summary
    assert [p.kind for p in report.rollback] == ["downgrade", "restore"]

    with connect(handle.database) as conn:  # the fix, as told, then the retry succeeds
        conn.execute("DROP INDEX CONCURRENTLY public.idx_codes_code")
        conn.execute("DELETE FROM codes WHERE id = 2")
    upgrade(handle, "unique1")
    assert detect_partial_application(handle, planned.revisions[0]).stamped


def test_a_transactional_failure_leaves_nothing(fresh_db: DatabaseUrl, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "project",
        [
            Rev(
                id="bad1",
                up_sql=("CREATE TABLE kept (id int)", "SELECT 1 / 0"),
                down_sql=("DROP TABLE kept",),
            )
        ],
    )
    handle = handle_for(fresh_db, tmp_path, script_location=project)
    planned = plan(handle)
    with pytest.raises(AlembicError):
        upgrade(handle)
    partial = detect_partial_application(handle, planned.revisions[0], sql=planned.sql["bad1"])
    assert partial.leftovers == () and not partial.uses_autocommit_block
    assert partial.result().verdict is Verdict.PASS
    assert "its transaction was rolled back" in partial.result().summary
