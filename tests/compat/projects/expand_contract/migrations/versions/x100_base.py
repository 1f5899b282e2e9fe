"""Create videos: the point both release lines start from."""

import sqlalchemy as sa
from alembic import op

revision = "x100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("videos", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("videos")
