"""Initial schema: jobs, videos and segments with full-text search.

Revision ID: 3f9a1c2e7b10
Revises:
Create Date: 2026-01-12 09:00:00

uuid keys from gen_random_uuid() (built in since PostgreSQL 13), JSONB
options and metadata, TIMESTAMPTZ everywhere, foreign keys that cascade from a
job to its videos and segments, and the ``segments_tsv_trigger`` that keeps
``segments.tsv`` in step with ``segments.text`` (the runbook checks it after
every migration).
"""

from alembic import op

revision = "3f9a1c2e7b10"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = (
    """
    CREATE TABLE IF NOT EXISTS jobs (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        kind TEXT NOT NULL,
        input_url TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        options JSONB NOT NULL DEFAULT '{}'::jsonb,
        error TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS videos (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        job_id UUID NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        youtube_id TEXT NOT NULL,
        title TEXT,
        duration_seconds INTEGER,
        metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS idx_videos_job_id ON videos (job_id)",
    """
    CREATE TABLE IF NOT EXISTS segments (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        video_id UUID NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
        start_seconds DOUBLE PRECISION NOT NULL,
        end_seconds DOUBLE PRECISION NOT NULL,
        text TEXT NOT NULL,
        tsv TSVECTOR,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS idx_segments_video_id ON segments (video_id)",
    "CREATE INDEX IF NOT EXISTS idx_segments_tsv ON segments USING GIN (tsv)",
    """
    CREATE OR REPLACE FUNCTION segments_tsv_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.tsv := to_tsvector('english', coalesce(NEW.text, ''));
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE OR REPLACE TRIGGER segments_tsv_trigger
        BEFORE INSERT OR UPDATE OF text ON segments
        FOR EACH ROW EXECUTE FUNCTION segments_tsv_update()
    """,
)

DOWNGRADE = (
    "DROP TABLE IF EXISTS segments",
    "DROP FUNCTION IF EXISTS segments_tsv_update()",
    "DROP TABLE IF EXISTS videos",
    "DROP TABLE IF EXISTS jobs",
)


def upgrade() -> None:
    """Create the three tables, their indexes and the tsv trigger."""
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything the initial schema created (all data goes with it)."""
    for statement in DOWNGRADE:
        op.execute(statement)
