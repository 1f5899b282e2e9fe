"""Invoices get a status, filled in for the existing rows."""

import sqlalchemy as sa
from alembic import op

revision = "b200"
down_revision = "b100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("status", sa.Text))
    op.execute("UPDATE invoices SET status = 'open'")
    op.alter_column("invoices", "status", nullable=False)


def downgrade() -> None:
    op.drop_column("invoices", "status")
