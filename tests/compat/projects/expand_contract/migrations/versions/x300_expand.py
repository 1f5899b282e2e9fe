"""Release 2, expand: add videos.title."""

import sqlalchemy as sa
from alembic import op

revision = "x300"
down_revision = "x200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("title", sa.Text))


def downgrade() -> None:
    op.drop_column("videos", "title")
