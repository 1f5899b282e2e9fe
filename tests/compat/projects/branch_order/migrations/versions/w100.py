"""Create the table each revision signs as it runs."""

from alembic import op

revision = "w100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE walked (n serial PRIMARY KEY, step text NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE walked")
