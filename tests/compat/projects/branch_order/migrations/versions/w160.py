"""After the first merge."""

from alembic import op

revision = "w160"
down_revision = "w150"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w160')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w160')")
