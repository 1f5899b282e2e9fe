"""Accounts get an email, unique."""

import sqlalchemy as sa
from alembic import op

revision = "a200"
down_revision = "a100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("email", sa.Text))
    op.create_index("accounts_email", "accounts", ["email"], unique=True)


def downgrade() -> None:
    op.drop_index("accounts_email", table_name="accounts")
    op.drop_column("accounts", "email")
