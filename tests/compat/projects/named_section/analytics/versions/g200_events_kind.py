"""Add events.kind."""

import sqlalchemy as sa
from alembic import op

revision = "g200"
down_revision = "g100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("kind", sa.Text))


def downgrade() -> None:
    op.drop_column("events", "kind")
