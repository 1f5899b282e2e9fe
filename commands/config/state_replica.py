"""``[bot] state_replica`` and ``state_replica_endpoint_url``: where Litestream copies
the SQLite state, checked like a target's ``backup`` (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

from commands.config.backup import S3_BUCKET
from commands.config.table import HTTP_URL, ConfigTable
from commands.state.location import StateReplica


def parse_state_replica(table: ConfigTable, *, shared: bool) -> StateReplica | None:
    """The replica, or None; a ``ConfigError`` names the key when the URL is of no
    known form, or when the state is PostgreSQL's (its own replication keeps it)."""
    text = table.string("state_replica")
    endpoint = table.string("state_replica_endpoint_url", None, HTTP_URL)
    if text is None:
        if endpoint is not None:
            raise table.error("state_replica_endpoint_url", "is only used with state_replica")
        return None
    if shared:
        raise table.error(
            "state_replica",
            "replicates the SQLite state_path, but state_url_env puts the state in PostgreSQL:"
            " replicate that database with PostgreSQL's own tools (streaming replicas, PITR)",
        )
    if text.startswith("s3://"):
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        if not S3_BUCKET.match(bucket):
            raise table.error("state_replica", f"{bucket!r} is not a valid S3 bucket name")
        prefix = prefix.strip("/")
        return StateReplica(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}", endpoint)
    if endpoint is not None:
        raise table.error("state_replica_endpoint_url", "is only used with an s3:// replica")
    if text.startswith("file://") and text.removeprefix("file://"):
        folder = (table.base / Path(text.removeprefix("file://")).expanduser()).resolve()
        return StateReplica("file://" + folder.as_posix())
    raise table.error("state_replica", f"{text!r} must be s3://bucket[/prefix] or file://folder")
