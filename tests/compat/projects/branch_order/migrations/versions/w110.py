"""Main line, first step."""

from alembic import op

revision = "w110"
down_revision = "w100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w110')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w110')")
