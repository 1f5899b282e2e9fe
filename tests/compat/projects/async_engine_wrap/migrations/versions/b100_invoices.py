"""Create invoices."""

import sqlalchemy as sa
from alembic import op

revision = "b100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("total_cents", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invoices")
