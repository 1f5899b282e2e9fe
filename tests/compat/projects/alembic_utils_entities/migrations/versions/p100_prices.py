"""Create prices and a function rounding them."""

import sqlalchemy as sa
from alembic import op
from alembic_utils.pg_function import PGFunction

ROUND_CENTS = PGFunction(
    schema="public",
    signature="round_cents(cents integer)",
    definition="RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT (cents / 100) * 100 $$",
)

revision = "p100"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prices", sa.Column("id", sa.Integer, primary_key=True), sa.Column("cents", sa.Integer)
    )
    op.create_entity(ROUND_CENTS)


def downgrade() -> None:
    op.drop_entity(ROUND_CENTS)
    op.drop_table("prices")
