"""Add plans.tier, filled from the rows already there."""

import sqlalchemy as sa
from alembic import op

revision = "a200"
down_revision = "a100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("tier", sa.Integer))
    top = op.get_bind().execute(sa.text("SELECT max(id) FROM plans")).fetchone()[0] or 0
    op.execute(sa.text("UPDATE plans SET tier = id * 10 + :top").bindparams(top=top))


def downgrade() -> None:
    op.drop_column("plans", "tier")
