"""Plans shown in Slack, by the short id a "View SQL" button carries, for every worker.

With several workers, the one that answers a click is rarely the one that
planned: the plan (revisions and SQL, as JSON) is kept here for a day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("kept_at", sa.Float(53), nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
    )
    op.create_index("plans_kept_at", "plans", ["kept_at"])


def downgrade() -> None:
    op.drop_table("plans")
