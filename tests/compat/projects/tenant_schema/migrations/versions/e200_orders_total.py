"""Add orders.total."""

import sqlalchemy as sa
from alembic import op

revision = "e200"
down_revision = "e100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("total", sa.Numeric(12, 2)))


def downgrade() -> None:
    op.drop_column("orders", "total")
