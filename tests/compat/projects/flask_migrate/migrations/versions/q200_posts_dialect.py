"""Add posts.body, sized by the dialect env.py connected with."""

import sqlalchemy as sa
from alembic import op

revision = "q200"
down_revision = "q100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    name = op.get_bind().engine.url.get_backend_name()
    op.add_column("posts", sa.Column("body", sa.Text if name == "postgresql" else sa.String(4000)))


def downgrade() -> None:
    op.drop_column("posts", "body")
