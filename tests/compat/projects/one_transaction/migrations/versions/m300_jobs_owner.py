"""Add jobs.owner_id referencing a table that does not exist."""

import sqlalchemy as sa
from alembic import op

revision = "m300"
down_revision = "m200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("owner_id", sa.Integer, sa.ForeignKey("owners.id")))


def downgrade() -> None:
    op.drop_column("jobs", "owner_id")
