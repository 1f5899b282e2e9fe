"""Create events (the analytics history)."""

import sqlalchemy as sa
from alembic import op

revision = "g100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("events", sa.Column("id", sa.BigInteger, primary_key=True))


def downgrade() -> None:
    op.drop_table("events")
