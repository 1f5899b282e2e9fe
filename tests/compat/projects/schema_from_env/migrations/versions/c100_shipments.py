"""Create shipments."""

import sqlalchemy as sa
from alembic import op

revision = "c100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("carrier", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shipments")
