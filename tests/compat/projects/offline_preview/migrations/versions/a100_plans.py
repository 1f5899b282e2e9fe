"""Create plans with two default rows."""

import sqlalchemy as sa
from alembic import op

revision = "a100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.bulk_insert(plans, [{"id": 1, "name": "free"}, {"id": 2, "name": "pro"}])


def downgrade() -> None:
    op.drop_table("plans")
