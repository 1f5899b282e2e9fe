"""Release 1, expand: add videos.youtube_ref beside the old column."""

import sqlalchemy as sa
from alembic import op

revision = "x200"
down_revision = "x100"
branch_labels = ("expand",)
depends_on = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("youtube_ref", sa.Text))


def downgrade() -> None:
    op.drop_column("videos", "youtube_ref")
