"""Add jobs.state."""

import sqlalchemy as sa
from alembic import op

revision = "m200"
down_revision = "m100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("state", sa.Text))


def downgrade() -> None:
    op.drop_column("jobs", "state")
