"""A backfill's batches compress their full-page images in the WAL when its role may set
``wal_compression``; a role that may not runs the same backfill uncompressed, told why,
and one whose right is revoked mid-run goes on without it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from commands.backfill.engine import Engine
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun, BackfillState
from commands.backfill.wal_compression import choose
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import EventKind
from tests.support.backfills import approved_run, items_state, make_items, spec, state_store

ROWS = 5000
ITEMS_IMAGES = r"""
SELECT count(*) FILTER (WHERE block_ref ~ (image || '; hole: [^;]*compression saved')),
       count(*) FILTER (WHERE block_ref ~ image)
FROM pg_get_wal_records_info(%s, pg_current_wal_insert_lsn()),
     LATERAL (SELECT '/' || pg_relation_filenode('items') || ' fork main blk \d+ \(FPW\)') i(image)
"""
"""(records with a compressed full-page image of ``items``, records with any) since an LSN."""


def test_the_fastest_method_the_build_offers_unless_the_server_or_the_spec_says_otherwise() -> None:
    assert choose(True, "off", ["pglz", "lz4", "on", "off"]).method == "lz4"
    assert choose(True, "off", ["pglz", "on", "off"]).method == "pglz"
    assert choose(True, "off", ["on", "off"]).method == "on"  # a boolean before PostgreSQL 15
    already = choose(True, "zstd", ["pglz", "zstd", "off"])
    assert already.method is None and "compresses it already (wal_compression zstd)" in already.note
    unwanted = choose(False, "off", ["lz4"])
    assert unwanted.method is None and "compress_wal = false" in unwanted.note


@pytest.fixture
def role(fresh_db: DatabaseUrl) -> Iterator[str]:
    """``items``, and a login role of its own that may read and update it, nothing more."""
    name = f"backfiller_{uuid.uuid4().hex[:8]}"
    make_items(fresh_db, ROWS)
    with connect(fresh_db) as conn:
        conn.execute("CREATE EXTENSION pg_walinspect")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        conn.execute(sql.SQL("GRANT SELECT, UPDATE ON items TO {}").format(sql.Identifier(name)))
    yield name
    with connect(fresh_db) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _backfill(
    superuser: DatabaseUrl, tmp_path: Path, role: str | None = None, *, revoke: bool = False
) -> tuple[BackfillRun, BackfillLedger, tuple[int, int]]:
    """The backfill right after a checkpoint, run by ``role`` (the superuser without one);
    ``revoke``: its right to set ``wal_compression`` is taken away after the first batch.
    With the (compressed, all) full-page images of ``items`` in the WAL meanwhile."""
    database = DatabaseUrl(superuser.url.set(username=role)) if role else superuser
    store = state_store(tmp_path)
    ledger = BackfillLedger(store)
    run = approved_run(store, database, spec(batch_size=500, max_batch_size=1000))
    with connect(superuser) as conn:
        conn.execute("CHECKPOINT")
        start = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()

        def take_the_right_away(seen: BackfillRun) -> None:
            if revoke and seen.progress.batches == 1:
                conn.execute(
                    sql.SQL("REVOKE SET ON PARAMETER wal_compression FROM {}").format(
                        sql.Identifier(role or "")
                    )
                )

        done = Engine(ledger, database, notify=take_the_right_away).run(run.id)
        assert start is not None
        images = conn.execute(ITEMS_IMAGES, (start[0],)).fetchone()
    assert done.state is BackfillState.DONE and items_state(superuser) == (ROWS, ROWS, 0, 0)
    assert images is not None
    return done, ledger, (int(images[0]), int(images[1]))


def test_a_superusers_batches_compress_their_full_page_images(
    fresh_db: DatabaseUrl, tmp_path: Path
) -> None:
    make_items(fresh_db, ROWS)
    with connect(fresh_db) as conn:
        conn.execute("CREATE EXTENSION pg_walinspect")
    done, ledger, (compressed, images) = _backfill(fresh_db, tmp_path)
    started = ledger.store.events(request_id=done.id, kinds=[EventKind.BACKFILL_STARTED])[0]
    method = started.data["wal_compression"]
    assert method in ("lz4", "zstd", "pglz") and done.wal_note == (
        f"full-page images compressed with {method}"
    )
    assert images > 10 and compressed >= images * 0.9  # autovacuum's own are not


def test_a_role_that_may_not_set_it_runs_uncompressed_and_is_told_the_grant(
    fresh_db: DatabaseUrl, tmp_path: Path, role: str
) -> None:
    done, ledger, (compressed, images) = _backfill(fresh_db, tmp_path, role)
    started = ledger.store.events(request_id=done.id, kinds=[EventKind.BACKFILL_STARTED])[0]
    assert started.data["wal_compression"] is None
    assert done.wal_note == (
        f"not compressed: {role} may not set it (a superuser's setting; PostgreSQL 15+:"
        f" GRANT SET ON PARAMETER wal_compression TO {role})"
    )
    assert images > 10 and compressed == 0


def test_a_granted_role_compresses_and_goes_on_without_when_the_grant_is_revoked(
    fresh_db: DatabaseUrl, tmp_path: Path, role: str
) -> None:
    with connect(fresh_db) as conn:
        conn.execute(
            sql.SQL("GRANT SET ON PARAMETER wal_compression TO {}").format(sql.Identifier(role))
        )
    done, ledger, (compressed, images) = _backfill(fresh_db, tmp_path, role, revoke=True)
    assert done.wal_note is not None and done.wal_note.startswith("full-page images compressed")
    assert 0 < compressed < images  # the first batch's, and none after the revoke
    retried = ledger.store.events(request_id=done.id, kinds=[EventKind.BACKFILL_RETRIED])
    assert len(retried) == 1 and "wal_compression" in retried[0].data["error"]
