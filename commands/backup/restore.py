"""Restoring a recorded backup into its target (the runbook's "Data corruption" path).

Before anything changes: the target must hold no table the backup lacks
(those would survive ``--clean`` and block it, or linger after it), and the
file must be the one recorded (sha256 and size). Then ``pg_restore --clean
--if-exists --no-owner`` runs in a single transaction, so a failure changes
nothing. After it: the Alembic revision must be the one the backup captured
(stamped, and recorded, if not) and every table's row count must match the
backup's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from audit.store import EventStore
from commands.backup.listing import find_backup
from commands.backup.records import (
    MIB,
    PROGRESS_EVERY_BYTES,
    BackupRecord,
    Progress,
    ProgressCallback,
    Step,
    ignore_progress,
)
from commands.backup.row_counts import count_rows, differences, table_names
from commands.backup.storage import BackupDestination, destination_of
from commands.backup.take import error_text
from commands.errors import ExitCode, MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.postgres.connections import connect, server_version
from commands.postgres.pg_tools import PgTools, default_tool_dirs, find_pg_tools, stderr_tail
from commands.state.vocabulary import EventKind
from commands.targets import TargetHandle
from commands.units import postgres_interval


class RestoreError(MigrateBotError):
    """The restore failed; the message says whether the database was changed."""


class ChecksumMismatchError(RestoreError):
    """The stored file is not the one recorded: it was changed or damaged."""


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

    Progress: TOOLS, DOWNLOAD (S3, every 32 MiB), CHECKSUM, RESTORE, REVISION,
    ROW_COUNTS. An S3 backup is downloaded into ``workdir`` (default: the
    system's temporary folder). Raises ``UnknownBackupError`` (nothing
    recorded), else records ``restore_failed`` and raises
    ``RestoreRefusedError``, ``ChecksumMismatchError``, ``RestoreError``,
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
    with tempfile.TemporaryDirectory(prefix="migrate-bot-restore-", dir=workdir) as scratch:
        attempt.step = Step.DOWNLOAD
        destination = destination_of(record.uri, handle.config)
        archive = fetch_checked(destination, record, Path(scratch), on_progress)
        fetched = time.monotonic()
        attempt.step = Step.RESTORE
        on_progress(Progress(Step.RESTORE, f"pg_restore --clean into {handle.database.database}"))
        run_pg_restore(tools, handle, archive)
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
    durations = {
        "fetch": round(fetched - started, 3),
        "restore": round(restored - fetched, 3),
        "checks": round(time.monotonic() - restored, 3),
    }
    return RestoreResult(
        backup=record, stamped_from=stamped_from, tables_checked=len(counts), durations_s=durations
    )


def fetch_checked(
    destination: BackupDestination,
    record: BackupRecord,
    scratch: Path,
    on_progress: ProgressCallback,
) -> Path:
    """The archive as a local file whose sha256 and size are the recorded ones.

    A local backup is read where it is; an S3 one is downloaded into
    ``scratch``, hashed on the way. Raises ``ChecksumMismatchError``.
    """
    local = destination.local_path(record.uri)
    path = local or scratch / record.name
    digest, size, next_report = hashlib.sha256(), 0, PROGRESS_EVERY_BYTES
    with nullcontext() if local else open(path, "wb") as copy:
        for chunk in destination.read(record.uri):
            digest.update(chunk)
            size += len(chunk)
            if copy is not None:
                copy.write(chunk)
                if size >= next_report:
                    next_report += PROGRESS_EVERY_BYTES
                    on_progress(Progress(Step.DOWNLOAD, f"{size / MIB:,.0f} MiB downloaded", size))
    if digest.hexdigest() != record.sha256 or size != record.size:
        raise ChecksumMismatchError(
            f"{record.uri} is not the file backed up: sha256 {digest.hexdigest()[:16]}…"
            f" ({size:,} bytes), recorded {record.sha256[:16]}… ({record.size:,} bytes);"
            " it was changed or damaged, so it is not restored. Nothing was changed"
        )
    on_progress(Progress(Step.CHECKSUM, f"sha256 matches ({record.sha256[:16]}…)", size))
    return path


def run_pg_restore(tools: PgTools, handle: TargetHandle, archive: Path) -> None:
    """pg_restore in one transaction; waits at most the target's lock_timeout per lock."""
    options = f"-c lock_timeout={postgres_interval(handle.config.lock_timeout)}"
    env = {
        **os.environ,
        **handle.database.libpq_env(),
        "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {options}".strip(),
    }
    command = [
        tools.pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={handle.database.for_libpq()}",
        str(archive),
    ]
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(
            command, stderr=errors, stdout=subprocess.DEVNULL, env=env, check=False
        )
        if result.returncode != 0:
            raise RestoreError(
                f"pg_restore failed and was rolled back, nothing was changed: {stderr_tail(errors)}"
                " (if it waited for a lock, stop the application first)"
            )


def _check_revision(
    handle: TargetHandle,
    record: BackupRecord,
    store: EventStore,
    where: dict[str, str | None],
    on_progress: ProgressCallback,
) -> tuple[str, ...] | None:
    """Stamp the backup's revision if the restored version table says otherwise."""
    with AlembicRunner.for_target(handle).session() as session:
        current = session.current()
        if set(current) == set(record.revisions):
            on_progress(Progress(Step.REVISION, f"at {_names(current)}, as backed up"))
            return None
        session.stamp(record.revisions)
    store.append(
        kind=EventKind.RESTORE_STAMPED,
        data={"backup_id": record.id, "from": list(current), "to": list(record.revisions)},
        **where,
    )
    on_progress(
        Progress(Step.REVISION, f"stamped {_names(record.revisions)} (was {_names(current)})")
    )
    return current


def _names(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) or "base"
