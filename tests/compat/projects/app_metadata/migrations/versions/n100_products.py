"""Create products from the application's metadata."""

from alembic import op

revision = "n100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_context().opts["target_metadata"].tables["products"].create(op.get_bind())


def downgrade() -> None:
    op.drop_table("products")
