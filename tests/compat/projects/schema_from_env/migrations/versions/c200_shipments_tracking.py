"""Shipments get a tracking number."""

import sqlalchemy as sa
from alembic import op

revision = "c200"
down_revision = "c100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shipments", sa.Column("tracking", sa.Text))
    op.create_index("shipments_tracking", "shipments", ["tracking"])


def downgrade() -> None:
    op.drop_index("shipments_tracking", table_name="shipments")
    op.drop_column("shipments", "tracking")
