"""Restoring a recorded backup into its target (the runbook's "Data corruption" path).

Before anything changes: the target must hold no table the backup lacks
(those would survive ``--clean`` and block it, or linger after it). Then
``pg_restore --clean --if-exists --no-owner`` reads the backup as it streams
from storage, in a single transaction that cannot commit before the whole
file proved to be the one recorded (sha256 and size), so a failure changes
nothing (``restore_stream``; with ``restore_jobs`` it runs in parallel, not
in one transaction). After it: the Alembic revision must be the one the
backup captured (stamped, and recorded, if not) and every table's row count
must match the backup's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from audit.store import EventStore
from commands.backup.listing import find_backup
from commands.backup.records import (
    BackupRecord,
    Progress,
    ProgressCallback,
    Step,
    ignore_progress,
)
from commands.backup.restore_stream import RestoreError, restore_archive
from commands.backup.row_counts import count_rows, differences, table_names, version_table_rows
from commands.backup.take import error_text
from commands.errors import ExitCode
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import revisions_text
from commands.postgres.connections import connect, server_version
from commands.postgres.pg_tools import default_tool_dirs, find_pg_tools
from commands.state.vocabulary import EventKind
from commands.targets import TargetHandle


class RestoreRefusedError(RestoreError):
    """Restoring would leave the database unlike the backup; nothing was changed."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: which backup, whether it had to stamp, how long each part took."""

    backup: BackupRecord
    stamped_from: tuple[str, ...] | None
    tables_checked: int
    durations_s: dict[str, float] = field(default_factory=dict)


@dataclass
class _Attempt:
    """How far a restore got, for the failure event."""

    step: Step = Step.TOOLS


def restore_backup(
    handle: TargetHandle,
    backup_id: str,
    *,
    store: EventStore,
    actor: str,
    request_id: str | None = None,
    on_progress: ProgressCallback = ignore_progress,
    tool_dirs: Sequence[Path] | None = None,
    workdir: Path | None = None,
) -> RestoreResult:
    """Restore backup ``backup_id`` into ``handle``'s database and check the result.

    Progress: TOOLS, RESTORE, DOWNLOAD (every 32 MiB read), CHECKSUM, REVISION,
    ROW_COUNTS. With ``restore_jobs`` > 1 the archive is decompressed into
    ``workdir`` first (default: the system's temporary folder). Raises
    ``UnknownBackupError`` (nothing recorded), else records ``restore_failed``
    and raises ``RestoreRefusedError``, ``ChecksumMismatchError``, ``RestoreError``,
    ``StorageError``, ``PgToolsError``, ``DatabaseUnavailableError`` or
    ``AlembicError``.
    """
    record = find_backup(store, handle.name, backup_id)
    where = {"actor": actor, "request_id": request_id, "target": handle.name}
    store.append(
        kind=EventKind.RESTORE_STARTED, data={"backup_id": record.id, "uri": record.uri}, **where
    )
    attempt = _Attempt()
    try:
        result = _restore(
            handle,
            record,
            attempt=attempt,
            store=store,
            where=where,
            on_progress=on_progress,
            tool_dirs=tool_dirs,
            workdir=workdir,
        )
    except BaseException as exc:
        store.append(
            kind=EventKind.RESTORE_FAILED,
            data={"backup_id": record.id, "step": attempt.step.value, "error": error_text(exc)},
            **where,
        )
        raise
    store.append(
        kind=EventKind.RESTORE_SUCCEEDED,
        data={
            "backup_id": record.id,
            "uri": record.uri,
            "sha256": record.sha256,
            "revisions": list(record.revisions),
            "stamped": result.stamped_from is not None,
            "tables_checked": result.tables_checked,
            "durations_s": result.durations_s,
        },
        **where,
    )
    return result


def _restore(
    handle: TargetHandle,
    record: BackupRecord,
    *,
    attempt: _Attempt,
    store: EventStore,
    where: dict[str, str | None],
    on_progress: ProgressCallback,
    tool_dirs: Sequence[Path] | None,
    workdir: Path | None,
) -> RestoreResult:
    started = time.monotonic()
    with connect(handle.database) as conn:
        major, minor = server_version(conn)
        extra = [
            f"{schema}.{table}"
            for schema, table in table_names(conn)
            if f"{schema}.{table}" not in record.row_counts
        ]
    dirs = default_tool_dirs(handle.config.pg_bin_dir) if tool_dirs is None else tool_dirs
    tools = find_pg_tools(major, f"{major}.{minor}", dirs)
    on_progress(Progress(Step.TOOLS, f"pg_restore {tools.version} ({tools.bin_dir})"))
    attempt.step = Step.TABLES
    if extra:
        raise RestoreRefusedError(
            f"{handle.name} has tables backup {record.id} does not ({', '.join(extra)}):"
            f" pg_restore --clean would leave them in place or fail on them. Downgrade to"
            f" {'+'.join(record.revisions) or 'base'} first, or drop them; nothing was changed"
        )
    attempt.step = Step.RESTORE
    durations = restore_archive(tools, handle, record, on_progress=on_progress, workdir=workdir)
    restored = time.monotonic()
    attempt.step = Step.REVISION
    stamped_from = _check_revision(handle, record, store, where, on_progress)
    attempt.step = Step.ROW_COUNTS
    with connect(handle.database) as conn:
        counts = count_rows(conn)
    mismatched = differences(record.row_counts, counts)
    if mismatched:
        raise RestoreError(
            f"backup {record.id} was restored, but row counts differ from its figures:"
            f" {'; '.join(mismatched)}"
        )
    on_progress(Progress(Step.ROW_COUNTS, f"row counts of {len(counts)} tables match the backup"))
    durations["checks"] = round(time.monotonic() - restored, 3)
    durations["total"] = round(time.monotonic() - started, 3)
    return RestoreResult(
        backup=record, stamped_from=stamped_from, tables_checked=len(counts), durations_s=durations
    )


def _check_revision(
    handle: TargetHandle,
    record: BackupRecord,
    store: EventStore,
    where: dict[str, str | None],
    on_progress: ProgressCallback,
) -> tuple[str, ...] | None:
    """Stamp the backup's revision if the restored version table says otherwise (read
    directly when it is ``alembic_version`` or when no table could be a version table, as
    the backup read it; Alembic is asked only to stamp, or when the project names its
    version table otherwise)."""
    with connect(handle.database) as conn:
        restored = version_table_rows(conn)
    if restored is not None and set(restored) == set(record.revisions):
        on_progress(Progress(Step.REVISION, f"at {revisions_text(restored)}, as backed up"))
        return None
    with AlembicRunner.for_target(handle).session() as session:
        current = session.current()
        if set(current) == set(record.revisions):
            on_progress(Progress(Step.REVISION, f"at {revisions_text(current)}, as backed up"))
            return None
        session.stamp(record.revisions)
    store.append(
        kind=EventKind.RESTORE_STAMPED,
        data={"backup_id": record.id, "from": list(current), "to": list(record.revisions)},
        **where,
    )
    on_progress(
        Progress(
            Step.REVISION,
            f"stamped {revisions_text(record.revisions)} (was {revisions_text(current)})",
        )
    )
    return current
