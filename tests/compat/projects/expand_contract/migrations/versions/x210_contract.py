"""Release 1, contract: what release 1's code no longer needs (depends on its expand)."""

import sqlalchemy as sa
from alembic import op

revision = "x210"
down_revision = "x100"
branch_labels = ("contract",)
depends_on = "x200"


def upgrade() -> None:
    op.create_table("contract_marks", sa.Column("release", sa.Integer, primary_key=True))
    op.execute("INSERT INTO contract_marks VALUES (1)")


def downgrade() -> None:
    op.drop_table("contract_marks")
