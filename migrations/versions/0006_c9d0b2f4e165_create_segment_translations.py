"""Create segment_translations, cascading from segments.

Revision ID: c9d0b2f4e165
Revises: 5a7c1e3f0b54
Create Date: 2026-03-16 09:00:00

The runbook's "adding a table" example: old code ignores the new table, new
code uses it. Rows go with their segment (ON DELETE CASCADE).
"""

from alembic import op

revision = "c9d0b2f4e165"
down_revision = "5a7c1e3f0b54"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and the index its foreign key needs for cascading deletes."""
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS segment_translations (
            id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            segment_id UUID NOT NULL REFERENCES segments (id) ON DELETE CASCADE,
            language TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_segment_translations_segment_id"
        " ON segment_translations (segment_id)"
    )


def downgrade() -> None:
    """Drop the table and every translation in it."""
    op.execute("DROP TABLE IF EXISTS segment_translations")
