"""The shared state: the audit log and its head, the outbox, seen Slack requests,
the scheduler's jobs and procrastinate's job queue.

The events table has the SQLite file's columns, with ``data`` kept as the
exact text the hash covers (not jsonb, which would re-spell it).
``scheduled_jobs`` is APScheduler 3's SQLAlchemy job store table, made here so
the bot's history owns every table; procrastinate's tables, types and
functions are its own ``schema.sql`` for the pinned version (3.10), applied
as procrastinate's docs advise for a project that runs its own migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("target", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    op.create_index("events_request_id", "events", ["request_id"])
    op.create_index("events_target_kind", "events", ["target", "kind"])
    op.create_index("events_kind", "events", ["kind"])
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.CheckConstraint("id = 1", name="chain_head_one_row"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("not_before", sa.Float(53), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("channel", sa.Text),
        sa.Column("ts", sa.Text),
        sa.Column("created", sa.Float(53), nullable=False),
        sa.Column("uncertain", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", sa.Float(53)),
    )
    op.create_index("outbox_due", "outbox", ["state", "not_before"])
    op.create_index("outbox_message", "outbox", ["message", "state"])
    op.create_table(
        "slack_requests_seen",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("seen_at", sa.Float(53), nullable=False),
    )
    op.create_index("slack_requests_seen_at", "slack_requests_seen", ["seen_at"])
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_scheduled_jobs_next_run_time", "scheduled_jobs", ["next_run_time"])
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(SchemaManager.get_schema().replace("%", "%%"), {})
    finally:
        cursor.close()


def downgrade() -> None:
    raise NotImplementedError("the shared state is not downgraded: restore a database backup")
