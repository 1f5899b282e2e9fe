"""Merge the search and pricing branches."""

revision = "k400"
down_revision = ("k200", "k300")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
