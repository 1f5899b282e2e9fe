"""A view of prices, rounded."""

from alembic import op
from alembic_utils.pg_view import PGView

ROUNDED = PGView(
    schema="public",
    signature="rounded_prices",
    definition="SELECT id, round_cents(cents) AS cents FROM prices",
)

revision = "p200"
down_revision = "p100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_entity(ROUNDED)


def downgrade() -> None:
    op.drop_entity(ROUNDED)
