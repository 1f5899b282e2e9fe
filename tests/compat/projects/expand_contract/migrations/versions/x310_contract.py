"""Release 2, contract (depends on release 2's expand)."""

from alembic import op

revision = "x310"
down_revision = "x210"
branch_labels = None
depends_on = "x300"


def upgrade() -> None:
    op.execute("INSERT INTO contract_marks VALUES (2)")


def downgrade() -> None:
    op.execute("DELETE FROM contract_marks WHERE release = 2")
