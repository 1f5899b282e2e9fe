"""Taking a verified backup of a target, and keeping only the newest N.

The runbook's step 1, done the way it should be done by hand and rarely is:
pg_dump in the custom format, read in full by pg_restore (or restored into a
scratch database) before it counts as a backup, compressed (``compression``),
stored where the target says and proven stored by its checksums, and
recorded with the revision it captured and its tables' row counts. The dump
is read once: verification, compression, hashing and upload happen while
pg_dump writes (see ``dump_stream``). A backup that fails leaves nothing
behind but its ``backup_failed`` event, and raises, so no migration can
follow it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import psycopg

from audit.store import Clock, EventStore, StoreBusyError, utc_now
from commands.backup.backup_index import id_taken
from commands.backup.compression import DumpCompression, plan_compression
from commands.backup.dump_stream import DumpResult, dump_command, stream_dump, verify_command
from commands.backup.listing import list_backups
from commands.backup.lock import try_backup_lock
from commands.backup.records import (
    MIB,
    PROGRESS_EVERY_BYTES,
    BackupError,
    BackupRecord,
    Progress,
    ProgressCallback,
    Step,
    backup_name,
    ignore_progress,
    new_backup_id,
)
from commands.backup.row_counts import (
    count_rows,
    count_rows_of,
    differences,
    exported_snapshot,
    version_table_rows,
)
from commands.backup.storage import (
    BackupDestination,
    BackupWriter,
    StorageError,
    destination_of,
    open_destination,
)
from commands.backup.stream_codec import encoder_for
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.postgres.connections import connect, server_version
from commands.postgres.pg_tools import PgTools, default_tool_dirs, find_pg_tools
from commands.postgres.scratch import VERIFY_RESTORE, scratch_database
from commands.state.busy import write_when_free
from commands.state.vocabulary import EventKind
from commands.targets import TargetHandle

_ID_ATTEMPTS = 20
VERIFIED_BY_FULL_READ = (
    "pg_restore --list and a full read of the archive as pg_dump wrote it; stored bytes"
    " proven by their checksums"
)
VERIFIED_BY_RESTORE = (
    "pg_restore --list and a test restore with matching row counts; stored bytes proven by"
    " their checksums"
)

log = logging.getLogger(__name__)
_NAME_ATTEMPTS = 3


def take_backup(
    handle: TargetHandle,
    *,
    store: EventStore,
    actor: str,
    request_id: str | None = None,
    on_progress: ProgressCallback = ignore_progress,
    clock: Clock = utc_now,
    id_factory: Callable[[], str] = new_backup_id,
    tool_dirs: Sequence[Path] | None = None,
    version_table: str | None = None,
    planned_current: Sequence[str] | None = None,
) -> BackupRecord:
    """Back ``handle``'s database up, verified, to its destination; record and return it.

    ``version_table`` is where the project keeps its revisions when the caller knows it
    (a run's plan does); the dump's revision is then read there, in the dump's snapshot,
    instead of asking Alembic in a child of its own. ``planned_current``: the revisions
    that plan found; only when it found none does a missing table mean base (an env.py
    that sets its own ``search_path`` keeps the table where this connection cannot see
    it, and Alembic is asked).

    Progress: TOOLS, DUMP (every 32 MiB), VERIFY, UPLOAD, then RETENTION for
    each older backup deleted. ``tool_dirs`` overrides where pg_dump is
    looked for. On any failure ``backup_failed`` is recorded, whatever was
    written is removed, and the error is raised: ``PgToolsError``,
    ``BackupError``, ``StorageError``, ``DatabaseUnavailableError``,
    ``AlembicError`` or ``ScratchDatabaseError``.
    """
    target = handle.name
    backup_id = _unused_id(store, target, id_factory)
    where = {"actor": actor, "request_id": request_id, "target": target}
    store.append(
        kind=EventKind.BACKUP_STARTED,
        data={"backup_id": backup_id, "destination": handle.config.backup},
        **where,
    )

    def writing(uri: str) -> None:
        store.append(
            kind=EventKind.BACKUP_WRITING, data={"backup_id": backup_id, "uri": uri}, **where
        )

    run = _BackupRun(
        handle,
        backup_id,
        on_progress=on_progress,
        on_writing=writing,
        clock=clock,
        tool_dirs=tool_dirs,
        version_table=version_table,
        planned_current=planned_current,
    )
    try:
        record = run.run()
    except BaseException as exc:
        failed = {"backup_id": backup_id, "step": run.step.value, "error": error_text(exc)}

        def record_failure() -> None:
            store.append(kind=EventKind.BACKUP_FAILED, data=failed, **where)

        write_when_free(  # a started backup without its end would look unfinished for ever
            record_failure,
            busy=StoreBusyError,
            waiting=lambda: log.warning(
                "backup %s of %s: its end waits for the audit log",
                backup_id,
                request_id or "no request",
            ),
        )
        raise
    event = store.append(kind=EventKind.BACKUP_SUCCEEDED, data=record.event_data(), **where)
    apply_retention(
        handle, store=store, actor=actor, request_id=request_id, on_progress=on_progress
    )
    return BackupRecord.from_event(event)


class _BackupRun:
    """One backup's work; ``step`` says how far it got when it fails."""

    def __init__(
        self,
        handle: TargetHandle,
        backup_id: str,
        *,
        on_progress: ProgressCallback,
        on_writing: Callable[[str], None],
        clock: Clock,
        tool_dirs: Sequence[Path] | None,
        version_table: str | None,
        planned_current: Sequence[str] | None,
    ) -> None:
        self.handle = handle
        self.config = handle.config
        self.backup_id = backup_id
        self.on_progress = on_progress
        self.on_writing = on_writing  # told the URI before anything is written
        self.clock = clock
        self.tool_dirs = tool_dirs
        self.version_table = version_table
        self.planned_base = planned_current is not None and not planned_current
        self.step = Step.TOOLS

    def run(self) -> BackupRecord:
        with connect(self.handle.database) as conn:
            major, minor = server_version(conn)
        server = f"{major}.{minor}"
        dirs = self.tool_dirs
        tools = find_pg_tools(
            major, server, default_tool_dirs(self.config.pg_bin_dir) if dirs is None else dirs
        )
        compression = plan_compression(self.config.backup_compression, tools)
        self.report(
            Step.TOOLS,
            f"pg_dump {tools.version} ({tools.bin_dir}), server {server};"
            f" {compression.format} archive, {compression.describe()}",
        )
        self.step = Step.DESTINATION
        destination = open_destination(self.config)
        destination.check()

        started = time.monotonic()
        self.step = Step.DUMP
        with exported_snapshot(self.handle.database) as (conn, snapshot):
            if not try_backup_lock(conn):
                raise BackupError(f"another backup of {self.handle.name} is running")
            self.step = Step.REVISION
            # the revision the dump holds, read in its snapshot; Alembic is asked only
            # when a table could be the project's version table but nobody knows which
            revisions = version_table_rows(conn, self.version_table or "alembic_version")
            if revisions is None and self.version_table is not None and self.planned_base:
                revisions = ()  # no version table yet: the database is at base
            elif revisions is None:
                revisions = AlembicRunner.for_target(self.handle).current()
            name = self.unused_name(destination, revisions)
            self.step = Step.DUMP
            writer = destination.writer(name)
            try:
                self.on_writing(writer.uri)
                result, counts, verified_by = self.dump_and_verify(
                    tools, compression, conn, snapshot, writer
                )
                self.step = Step.UPLOAD
                upload_started = time.monotonic()
                stored = writer.commit()
            except BaseException:
                writer.abort()
                raise
        upload_s = time.monotonic() - upload_started
        self.report(
            Step.UPLOAD,
            f"stored {stored.uri} ({stored.size:,} bytes), proven by its checksum",
            stored.size,
        )
        encrypted = stored.uri.startswith("s3://") and self.config.s3_sse != "none"
        return BackupRecord(
            id=self.backup_id,
            target=self.handle.name,
            created_at="",
            name=name,
            uri=stored.uri,
            size=stored.size,
            sha256=stored.sha256,
            revisions=revisions,
            server_version=server,
            pg_dump_version=tools.version,
            compression=self.config.backup_compression,
            format=compression.format,
            archive_size=result.archive_size,
            encryption=self.config.s3_sse if encrypted else None,
            verified_by=verified_by,
            toc_entries=result.toc_entries,
            durations_s={
                "dump": round(result.dump_s, 3),
                "verify": round(result.verify_s, 3),
                "upload": round(upload_s, 3),
                "total": round(time.monotonic() - started, 3),
            },
            row_counts=counts,
        )

    def dump_and_verify(
        self,
        tools: PgTools,
        compression: DumpCompression,
        conn: psycopg.Connection,
        snapshot: str,
        writer: BackupWriter,
    ) -> tuple[DumpResult, dict[str, int], str]:
        """Stream the dump, count rows in its snapshot meanwhile, and (with
        ``verify_restore``) compare the scratch restore's counts with them."""
        database = self.handle.database
        with ExitStack() as stack:
            scratch = (
                stack.enter_context(scratch_database(database, VERIFY_RESTORE, self.backup_id))
                if self.config.verify_restore
                else None
            )
            counting = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="row-counts"))
            counted: list[Future[dict[str, int]]] = []
            meter = self.dump_meter()

            def on_bytes(done: int) -> None:
                # pg_dump writes only once it has imported the snapshot; counting in the
                # exporting transaction before that could abort it under pg_dump's feet
                if not counted:
                    counted.append(counting.submit(count_rows, conn))
                meter(done)

            try:
                result = stream_dump(
                    dump_command(
                        tools,
                        database,
                        snapshot=snapshot,
                        compress=compression.pg_dump_compress,
                        lock_timeout_ms=round(self.config.lock_timeout * 1000),
                    ),
                    verify_command(tools, scratch),
                    env={**os.environ, **database.libpq_env()},
                    writer=writer,
                    encoder=encoder_for(compression.format, compression.zstd_level),
                    on_bytes=on_bytes,
                )
            except BaseException:
                if counted:
                    conn.cancel()  # stop counting: the backup is lost anyway
                raise
            try:
                counts = (counted[0] if counted else counting.submit(count_rows, conn)).result()
            except psycopg.Error as exc:
                raise BackupError(f"counting rows in the dump's snapshot failed: {exc}") from None
            self.step = Step.VERIFY
            if scratch is None:
                self.report(
                    Step.VERIFY, f"read in full by pg_restore: {result.toc_entries} archive entries"
                )
                return result, counts, VERIFIED_BY_FULL_READ
            mismatched = differences(counts, count_rows_of(scratch))
            if mismatched:
                raise BackupError(
                    "the test restore's row counts differ from the database's:"
                    f" {'; '.join(mismatched)}"
                )
            self.report(
                Step.VERIFY, f"restored into {scratch.database}: {len(counts)} tables' counts match"
            )
            return result, counts, VERIFIED_BY_RESTORE

    def unused_name(self, destination: BackupDestination, revisions: tuple[str, ...]) -> str:
        """A name no backup has: names go by the second, so a backup taken within the
        same second as the last one waits for the next."""
        for _ in range(_NAME_ATTEMPTS):
            name = backup_name(self.handle.name, self.clock(), revisions)
            if not destination.exists(name):
                return name
            time.sleep(1)
        raise BackupError(f"{destination.uri}/{name} already exists")

    def dump_meter(self) -> Callable[[int], None]:
        """A byte counter that reports every ``PROGRESS_EVERY_BYTES``."""
        next_report = PROGRESS_EVERY_BYTES

        def on_bytes(done: int) -> None:
            nonlocal next_report
            if done >= next_report:
                next_report += PROGRESS_EVERY_BYTES
                self.report(Step.DUMP, f"{done / MIB:,.0f} MiB dumped", done)

        return on_bytes

    def report(self, step: Step, message: str, bytes_done: int | None = None) -> None:
        self.on_progress(Progress(step, message, bytes_done))


def apply_retention(
    handle: TargetHandle,
    *,
    store: EventStore,
    actor: str,
    request_id: str | None = None,
    on_progress: ProgressCallback = ignore_progress,
) -> list[BackupRecord]:
    """Delete the target's backups older than its newest ``backup_keep``; record each.

    A backup that cannot be deleted stays listed (and is tried again next
    time); the failure is reported through ``on_progress``, not raised, as
    the new backup is good.
    """
    keep = handle.config.backup_keep
    deleted = []
    for record in list_backups(store, handle.name)[keep:]:
        try:
            destination_of(record.uri, handle.config).delete(record.uri)
        except StorageError as exc:
            on_progress(Progress(Step.RETENTION, f"could not delete backup {record.id}: {exc}"))
            continue
        store.append(
            kind=EventKind.BACKUP_DELETED,
            actor=actor,
            request_id=request_id,
            target=handle.name,
            data={"backup_id": record.id, "uri": record.uri, "reason": f"retention: keep {keep}"},
        )
        deleted.append(record)
        on_progress(Progress(Step.RETENTION, f"deleted backup {record.id} ({record.uri})"))
    return deleted


def error_text(exc: BaseException) -> str:
    """What a failure event says: the user-safe message, or the kind of surprise."""
    if isinstance(exc, MigrateBotError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"


def _unused_id(store: EventStore, target: str, id_factory: Callable[[], str]) -> str:
    for _ in range(_ID_ATTEMPTS):
        candidate = id_factory()
        if not id_taken(store, target, candidate):
            return candidate
    raise BackupError(f"no unused backup id after {_ID_ATTEMPTS} tries")
