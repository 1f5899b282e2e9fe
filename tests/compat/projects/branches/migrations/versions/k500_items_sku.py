"""Add items.sku after the merge."""

import sqlalchemy as sa
from alembic import op

revision = "k500"
down_revision = "k400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("sku", sa.Text))


def downgrade() -> None:
    op.drop_column("items", "sku")
