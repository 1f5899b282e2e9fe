"""Runs' schema diffs, kept whole under their sha256 (``commands.state.schema_diffs``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_diffs",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("recorded", sa.Float(53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("schema_diffs")
