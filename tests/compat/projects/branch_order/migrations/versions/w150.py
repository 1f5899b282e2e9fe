"""First merge: the side branch and the short one."""

from alembic import op

revision = "w150"
down_revision = ("w200", "w900")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w150')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w150')")
