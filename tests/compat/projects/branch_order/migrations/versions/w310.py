"""The long branch, second step."""

from alembic import op

revision = "w310"
down_revision = "w300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w310')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w310')")
