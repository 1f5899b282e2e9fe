"""Add users.team_id with a foreign key autogenerate left unnamed."""

import sqlalchemy as sa
from alembic import op

revision = "c300"
down_revision = "c200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("team_id", sa.Integer))
    op.create_foreign_key(None, "users", "teams", ["team_id"], ["id"])


def downgrade() -> None:
    op.drop_constraint(None, "users", type_="foreignkey")
    op.drop_column("users", "team_id")
