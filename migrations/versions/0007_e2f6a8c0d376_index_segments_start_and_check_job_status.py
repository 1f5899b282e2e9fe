"""Index segments by (video_id, start_seconds) and check jobs.status.

Revision ID: e2f6a8c0d376
Revises: c9d0b2f4e165
Create Date: 2026-03-30 09:00:00

DELIBERATELY RISKY, by the runbook's own DON'T list, so migrate-bot's safety
checks have something real to find: the index is built without CONCURRENTLY
(writes to segments block for the whole build) and the CHECK constraint is
added without NOT VALID (jobs is scanned under an ACCESS EXCLUSIVE lock).
Harmless on the small demo tables; on a production-sized segments table this
is the revision that should not be approved as written.
"""

from alembic import op

revision = "e2f6a8c0d376"
down_revision = "c9d0b2f4e165"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Build the index and add the constraint the blocking way."""
    op.execute("CREATE INDEX idx_segments_video_start ON segments (video_id, start_seconds)")
    op.execute(
        "ALTER TABLE jobs ADD CONSTRAINT jobs_status_check"
        " CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'))"
    )


def downgrade() -> None:
    """Drop the constraint and the index; no data is lost."""
    op.execute("ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_status_check")
    op.execute("DROP INDEX IF EXISTS idx_segments_video_start")
