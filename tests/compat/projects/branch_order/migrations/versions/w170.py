"""Second merge: everything meets."""

from alembic import op

revision = "w170"
down_revision = ("w160", "w310")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('up w170')")


def downgrade() -> None:
    op.execute("INSERT INTO walked (step) VALUES ('down w170')")
