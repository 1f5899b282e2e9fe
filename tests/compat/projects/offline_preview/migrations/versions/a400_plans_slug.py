"""Add plans.slug, set through an ORM session."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import orm

revision = "a400"
down_revision = "a300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plans", sa.Column("slug", sa.Text))
    session = orm.Session(bind=op.get_bind())
    for plan_id, name in session.execute(sa.text("SELECT id, name FROM plans")).all():
        session.execute(
            sa.text("UPDATE plans SET slug = :slug WHERE id = :id"),
            {"slug": name.lower(), "id": plan_id},
        )
    session.close()


def downgrade() -> None:
    op.drop_column("plans", "slug")
