"""Index plans.name, the PostgreSQL way when on PostgreSQL."""

from alembic import op

revision = "a300"
down_revision = "a200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.engine.url.get_backend_name() == "postgresql":
        op.execute("CREATE INDEX plans_name_idx ON plans USING btree (lower(name))")
    else:
        op.create_index("plans_name_idx", "plans", ["name"])


def downgrade() -> None:
    op.drop_index("plans_name_idx", table_name="plans")
