"""Parcels in a shipment."""

import sqlalchemy as sa
from alembic import op

revision = "c300"
down_revision = "c200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parcels",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shipment_id", sa.Integer, sa.ForeignKey("shipments.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("parcels")
