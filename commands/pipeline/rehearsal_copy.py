"""The copy a rehearsal runs on: a recorded backup restored into a scratch database.

The same checked stream and pg_restore a real restore uses, aimed at a
throw-away database beside the target's, dropped when the rehearsal ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from commands.backup.records import BackupRecord, ignore_progress
from commands.backup.restore_stream import restore_archive
from commands.checks.rehearsal import ScratchDatabase
from commands.postgres.connections import connect, server_version
from commands.postgres.pg_tools import default_tool_dirs, find_pg_tools
from commands.postgres.scratch import REHEARSAL, scratch_database
from commands.targets import TargetHandle


@contextmanager
def scratch_from_backup(handle: TargetHandle, record: BackupRecord) -> Iterator[ScratchDatabase]:
    """A scratch database restored from ``record``, dropped on exit.

    Raises ``ScratchDatabaseError``, ``ChecksumMismatchError``, ``RestoreError``,
    ``StorageError`` or ``PgToolsError``.
    """
    with connect(handle.database) as conn:
        major, minor = server_version(conn)
    tools = find_pg_tools(major, f"{major}.{minor}", default_tool_dirs(handle.config.pg_bin_dir))
    with scratch_database(handle.database, REHEARSAL, record.id) as url:
        restore_archive(tools, replace(handle, database=url), record, on_progress=ignore_progress)
        yield ScratchDatabase(
            url=url, copy_taken_at=datetime.fromisoformat(record.created_at), source=record.uri
        )
