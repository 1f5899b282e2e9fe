"""The long branch, first step."""

from alembic import op

revision = "w300"
down_revision = "w120"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w300')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w300')")
