"""Create accounts with a unique email."""

import sqlalchemy as sa
from alembic import op

revision = "b100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("accounts")
