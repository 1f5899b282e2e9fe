"""Drop videos.youtube_id, now that youtube_video_id holds every value.

Revision ID: 4f1c7a9e2b87
Revises: e2f6a8c0d376
Create Date: 2026-04-13 09:00:00

The last phase of the runbook's multi-phase rename (Pattern 4): the old
column goes once no code reads it. Whether that is so is exactly what a
checklist tick cannot prove and the database can: migrate-bot's ``live_use``
check looks for statements the running application still sends that read
youtube_id. In the sandbox, the simulated app still does.
"""

from alembic import op

revision = "4f1c7a9e2b87"
down_revision = "e2f6a8c0d376"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the old column; a catalog-only change, instant on any table size."""
    op.execute("ALTER TABLE videos DROP COLUMN IF EXISTS youtube_id")


def downgrade() -> None:
    """Bring the column back, filled from youtube_video_id (NOT NULL is not restored)."""
    op.execute("ALTER TABLE videos ADD COLUMN IF NOT EXISTS youtube_id TEXT")
    op.execute("UPDATE videos SET youtube_id = youtube_video_id WHERE youtube_id IS NULL")
