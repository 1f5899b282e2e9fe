"""Search branch: add items.title."""

import sqlalchemy as sa
from alembic import op

revision = "k200"
down_revision = "k100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("title", sa.Text))


def downgrade() -> None:
    op.drop_column("items", "title")
