"""Add notes.body."""

import sqlalchemy as sa
from alembic import op

revision = "d200"
down_revision = "d100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("body", sa.Text))


def downgrade() -> None:
    op.drop_column("notes", "body")
