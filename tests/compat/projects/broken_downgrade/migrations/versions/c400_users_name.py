"""Add users.name."""

import sqlalchemy as sa
from alembic import op

revision = "c400"
down_revision = "c300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("name", sa.Text))


def downgrade() -> None:
    op.drop_column("users", "name")
