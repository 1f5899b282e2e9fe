"""Costs that do not grow with the history: the projections kept beside the events
(``audit.projections``) and indexes that end in ``seq``.

``projections`` holds each projection's checkpoint (and the head the last
``audit verify`` reached); ``request_index`` is every request's state
(``commands.requests.index``), ``backup_index`` every backup's
(``commands.backup.backup_index``), ``metric_totals`` and ``metric_counted``
the metrics' totals (``bot.metrics.metric_totals``). PostgreSQL keeps equal keys of an index in no
particular order, so ``WHERE kind = … ORDER BY seq DESC LIMIT 1`` sorted
every event of that kind: each events index now ends in ``seq`` (SQLite's
end in the rowid, which is ``seq``, already).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EVENT_INDEXES = {
    "events_request_id": ["request_id"],
    "events_target_kind": ["target", "kind"],
    "events_kind": ["kind"],
}


def upgrade() -> None:
    for name, columns in EVENT_INDEXES.items():
        op.drop_index(name, table_name="events")
        op.create_index(name, "events", [*columns, "seq"])
    op.create_table(
        "projections",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    op.create_table(
        "request_index",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("created_seq", sa.BigInteger, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("dedupe_key", sa.Text),
        sa.Column("watching", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("request_index_created", "request_index", ["created_seq"])
    op.create_index("request_index_state", "request_index", ["state", "created_seq"])
    op.create_index("request_index_target", "request_index", ["target", "created_seq"])
    op.create_index("request_index_dedupe", "request_index", ["target", "dedupe_key"])
    op.create_index("request_index_watching", "request_index", ["watching"])
    op.create_table(
        "backup_index",
        sa.Column("target", sa.Text, primary_key=True),
        sa.Column("backup_id", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("uri", sa.Text),
        sa.Column("record_seq", sa.BigInteger),
    )
    op.create_index("backup_index_state", "backup_index", ["target", "state", "record_seq"])
    op.create_table(
        "metric_totals",
        sa.Column("metric", sa.Text, primary_key=True),
        sa.Column("labels", sa.Text, primary_key=True),
        sa.Column("bucket", sa.Text, primary_key=True),
        sa.Column("value", sa.Float(53), nullable=False),
    )
    op.create_table("metric_counted", sa.Column("request_id", sa.Text, primary_key=True))


def downgrade() -> None:
    op.drop_table("metric_counted")
    op.drop_table("metric_totals")
    op.drop_table("backup_index")
    op.drop_table("request_index")
    op.drop_table("projections")
    for name, columns in EVENT_INDEXES.items():
        op.drop_index(name, table_name="events")
        op.create_index(name, "events", columns)
