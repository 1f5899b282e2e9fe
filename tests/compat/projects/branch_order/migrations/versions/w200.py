"""Side branch: a table of its own (as 1f002cab0a7 forks off in warehouse)."""

from alembic import op

revision = "w200"
down_revision = "w100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w200')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w200')")
