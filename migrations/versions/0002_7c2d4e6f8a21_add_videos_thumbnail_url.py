"""Add videos.thumbnail_url, nullable.

Revision ID: 7c2d4e6f8a21
Revises: 3f9a1c2e7b10
Create Date: 2026-01-19 09:00:00

The runbook's Pattern 1: a nullable column with no default is a catalog-only
change, instant on a table of any size. The code that fills it ships after.
"""

from alembic import op

revision = "7c2d4e6f8a21"
down_revision = "3f9a1c2e7b10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column; existing rows read NULL until the app writes it."""
    op.execute("ALTER TABLE videos ADD COLUMN IF NOT EXISTS thumbnail_url TEXT")


def downgrade() -> None:
    """Drop the column and the thumbnails stored in it."""
    op.execute("ALTER TABLE videos DROP COLUMN IF EXISTS thumbnail_url")
