"""Who is who: the names Slack gives its user ids, for the terminal
(``commands.state.people``), shared by every worker and the CLI.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("seen", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("people")
