"""Backfill videos.youtube_video_id from youtube_id, in batches.

Revision ID: 5a7c1e3f0b54
Revises: 0e8f2a6b9d43
Create Date: 2026-03-02 09:00:00

Phase 3 of the rename. The runbook's DO list says to batch large updates: each
batch of BATCH_SIZE rows commits on its own (autocommit block), so no single
transaction holds row locks on the whole table and the work can stop and
resume. In offline (--sql) mode one batch is shown.
"""

from alembic import op

revision = "5a7c1e3f0b54"
down_revision = "0e8f2a6b9d43"
branch_labels = None
depends_on = None

BATCH_SIZE = 5000

BACKFILL_BATCH = f"""
    UPDATE videos SET youtube_video_id = youtube_id
    WHERE id IN (
        SELECT id FROM videos WHERE youtube_video_id IS NULL LIMIT {BATCH_SIZE}
        FOR UPDATE SKIP LOCKED
    )
"""


def upgrade() -> None:
    """Copy youtube_id into youtube_video_id where it is still NULL, a batch at a time."""
    if op.get_context().as_sql:
        op.execute(BACKFILL_BATCH)
        return
    with op.get_context().autocommit_block():
        while op.get_bind().exec_driver_sql(BACKFILL_BATCH).rowcount:
            pass


def downgrade() -> None:
    """Clear the copied values: the new column is as it was before the backfill."""
    op.execute("UPDATE videos SET youtube_video_id = NULL WHERE youtube_video_id = youtube_id")
