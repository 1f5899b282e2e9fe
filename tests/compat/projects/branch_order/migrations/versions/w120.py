"""Main line, second step: the fork point of two branches."""

from alembic import op

revision = "w120"
down_revision = "w110"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w120')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w120')")
