"""Index videos.created_at without blocking writes.

Revision ID: b41e9d3a5c32
Revises: 7c2d4e6f8a21
Create Date: 2026-02-02 09:00:00

The runbook's Pattern 3. CREATE INDEX CONCURRENTLY cannot run inside a
transaction, so it runs in Alembic's ``autocommit_block``. If it fails part way
it leaves an INVALID index behind; IF NOT EXISTS would then skip it, so the
fix is to drop the invalid index and run the revision again.
"""

from alembic import op

revision = "b41e9d3a5c32"
down_revision = "7c2d4e6f8a21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Build the index concurrently: reads and writes go on during the build."""
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_videos_created_at ON videos (created_at)"
        )


def downgrade() -> None:
    """Drop the index concurrently, again without blocking writes."""
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS idx_videos_created_at")
