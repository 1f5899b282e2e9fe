"""Add customers.email."""

import sqlalchemy as sa
from alembic import op

revision = "h300"
down_revision = "h200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("email", sa.Text))


def downgrade() -> None:
    op.drop_column("customers", "email")
