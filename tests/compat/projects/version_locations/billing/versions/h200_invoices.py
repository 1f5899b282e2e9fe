"""Create invoices (kept with the billing module)."""

import sqlalchemy as sa
from alembic import op

revision = "h200"
down_revision = "h100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id")),
    )


def downgrade() -> None:
    op.drop_table("invoices")
