"""One revision that goes straight to the first merge."""

from alembic import op

revision = "w900"
down_revision = "w120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w900')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w900')")
