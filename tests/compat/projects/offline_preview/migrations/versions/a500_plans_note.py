"""Add plans.note (plain DDL: its SQL renders offline)."""

import sqlalchemy as sa
from alembic import op

revision = "a500"
down_revision = "a400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("note", sa.Text))


def downgrade() -> None:
    op.drop_column("plans", "note")
