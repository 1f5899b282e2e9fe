"""Pricing branch: add items.price."""

import sqlalchemy as sa
from alembic import op

revision = "k300"
down_revision = "k100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("price", sa.Numeric))


def downgrade() -> None:
    op.drop_column("items", "price")
