"""Add videos.youtube_video_id, the better name for youtube_id.

Revision ID: 0e8f2a6b9d43
Revises: b41e9d3a5c32
Create Date: 2026-02-16 09:00:00

Phase 1 of the runbook's multi-phase rename (Pattern 4): add the new column
beside the old one. Next the app writes both, then a backfill copies old rows,
then reads switch, and only much later is youtube_id dropped.
"""

from alembic import op

revision = "0e8f2a6b9d43"
down_revision = "b41e9d3a5c32"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the new, nullable column; instant on any table size."""
    op.execute("ALTER TABLE videos ADD COLUMN IF NOT EXISTS youtube_video_id TEXT")


def downgrade() -> None:
    """Drop the new column; youtube_id still holds every value."""
    op.execute("ALTER TABLE videos DROP COLUMN IF EXISTS youtube_video_id")
