"""Create users."""

import sqlalchemy as sa
from alembic import op

revision = "c200"
down_revision = "c100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("users")
