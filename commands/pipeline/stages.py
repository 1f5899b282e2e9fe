"""The steps of one run, each recorded in the audit log and reported as it goes.

A step starts with a ``run_step`` event (so a crash leaves the step it died
in on record), reports progress, and ends succeeded or failed. A failed step
raises ``StageFailed``; the pipeline turns that into the run's outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from commands.backup.records import BackupRecord, Progress
from commands.backup.restore import restore_backup
from commands.backup.take import take_backup
from commands.checks import (
    CatalogSnapshot,
    Report,
    Verdict,
    detect_partial_application,
    record_report,
    run_preflight,
    snapshot_catalog,
    verify_after_run,
)
from commands.errors import MigrateBotError
from commands.migration.runtime.executor import RevisionEvent, RevisionFailedError, execute_revision
from commands.migration.runtime.runner import AlembicError, AlembicRunner
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision
from commands.pipeline.context import RunContext
from commands.pipeline.limits import RunLimits
from commands.pipeline.plans import RequestPlan
from commands.pipeline.progress import AppliedRevision, RunStep, RunUpdate, UpdateKind
from commands.pipeline.settings import execution_settings
from commands.postgres.connections import connect, server_version
from commands.requests import Request
from commands.state.vocabulary import StepStatus
from commands.targets import TargetHandle
from commands.units import format_bytes, format_duration


class StageFailed(MigrateBotError):
    """A step of the run failed; the run fails at ``step``."""

    def __init__(self, step: RunStep, message: str) -> None:
        super().__init__(message)
        self.step = step


class Stages:
    """The state one run carries from step to step."""

    def __init__(
        self,
        context: RunContext,
        request: Request,
        handle: TargetHandle,
        *,
        planned: RequestPlan,
        limits: RunLimits,
        on_update: Callable[[RunUpdate], None],
    ) -> None:
        self.context = context
        self.request = request
        self.handle = handle
        self.plan: Plan = planned.plan
        self.restore_from: BackupRecord | None = planned.backup
        self.limits = limits
        self.on_update = on_update
        self.current: RunStep | None = None
        self.snapshot: CatalogSnapshot | None = None
        self.applied: list[AppliedRevision] = []
        self.backup_summary: dict[str, Any] | None = None
        self.verification: tuple[str, ...] = ()
        self.leftovers: tuple[str, ...] = ()

    # reporting ---------------------------------------------------------------

    def emit(self, step: RunStep, kind: UpdateKind, message: str, **fields: Any) -> None:
        self.on_update(
            RunUpdate(
                request_id=self.request.id,
                target=self.request.target,
                step=step,
                kind=kind,
                message=message,
                at=self.context.clock(),
                **fields,
            )
        )

    def record(self, step: RunStep, status: StepStatus, detail: str = "", **fields: Any) -> None:
        self.context.requests.record_step(
            self.request.id,
            actor=self.context.actor,
            step=step.value,
            status=status,
            detail=detail,
            **fields,
        )

    def begin(self, step: RunStep, message: str) -> None:
        self.limits.check(step.value)
        self.current = step
        self.record(step, StepStatus.STARTED, message)
        self.emit(step, UpdateKind.STARTED, message)

    def succeed(self, step: RunStep, message: str, **fields: Any) -> None:
        self.record(step, StepStatus.SUCCEEDED, message, **fields)
        self.emit(step, UpdateKind.SUCCEEDED, message)

    def fail(self, step: RunStep, message: str) -> StageFailed:
        self.record(step, StepStatus.FAILED, message)
        self.emit(step, UpdateKind.FAILED, message)
        return StageFailed(step, message)

    # steps -------------------------------------------------------------------

    def preflight(self) -> None:
        step = RunStep.PREFLIGHT
        self.begin(step, "pre-flight checks")
        report = run_preflight(
            self.handle,
            to=self.request.goal,
            direction=self.plan.direction,
            clock=self.context.clock,
            open_other=self.context.target,
        )
        self._record_report(report)
        if report.blocks:
            raise self.fail(step, f"pre-flight failed: {_failures(report)}")
        self.snapshot = snapshot_catalog(
            self.handle.database, watch_tables=self.handle.config.watch_tables
        )
        warned = [r.name for r in report.results if r.verdict is Verdict.WARN]
        note = f" (warnings: {', '.join(warned)})" if warned else ""
        self.succeed(step, f"pre-flight passed in {format_duration(report.duration_s)}{note}")

    def backup(self) -> None:
        step = RunStep.BACKUP
        self.begin(
            step, f"backing up {self.handle.database.database} to {self.handle.config.backup}"
        )

        def progress(update: Progress) -> None:
            data = {"bytes": update.bytes_done} if update.bytes_done is not None else {}
            self.emit(step, UpdateKind.PROGRESS, update.message, data=data)

        try:
            record = take_backup(
                self.handle,
                store=self.context.store,
                actor=self.context.actor,
                request_id=self.request.id,
                on_progress=progress,
                clock=self.context.clock,
            )
        except MigrateBotError as exc:
            raise self.fail(step, f"backup failed, nothing was changed: {exc}") from None
        self.backup_summary = {
            "id": record.id,
            "uri": record.uri,
            "size": record.size,
            "sha256": record.sha256,
            "revisions": list(record.revisions),
        }
        self.succeed(
            step, f"backup {record.id}: {format_bytes(record.size)}, verified, at {record.uri}"
        )

    def apply(self) -> None:
        step = RunStep.APPLY
        total = len(self.plan.revisions)
        verb = "applying" if self.plan.direction is Direction.UP else "undoing"
        self.begin(step, f"{verb} {total} revision(s)")
        with connect(self.handle.database) as conn:
            major, _ = server_version(conn)
        settings = execution_settings(self.handle.config, server_major=major)
        with AlembicRunner.for_target(self.handle).session() as session:
            for index, revision in enumerate(self.plan.revisions, start=1):
                self.limits.check(f"revision {revision.id}")
                self._apply_one(session, revision, index, total, settings)
        self.succeed(step, f"{total} revision(s) {'applied' if verb == 'applying' else 'undone'}")

    def _apply_one(
        self, session: Any, revision: Revision, index: int, total: int, settings: Any
    ) -> None:
        step = RunStep.APPLY
        where = {"revision": revision.id, "index": index, "total": total}
        self.record(step, StepStatus.STARTED, revision.message, revision=revision.id)
        self.emit(step, UpdateKind.STARTED, f"{revision.id} {revision.message}", **where)

        def on_event(event: RevisionEvent) -> None:
            if event.kind in ("retrying", "queue_cancelled") or (
                event.kind == "blocked" and event.data.get("blockers")
            ):
                status = StepStatus.FAILED if event.kind == "retrying" else StepStatus.STARTED
                self.record(step, status, event.message, revision=revision.id)
            self.emit(
                step,
                UpdateKind.PROGRESS,
                event.message,
                data={"event": event.kind, **event.data},
                **where,
            )

        try:
            result = execute_revision(
                session,
                self.handle.database,
                revision,
                self.plan.direction,
                settings=settings,
                label=self.request.id,
                on_event=on_event,
                deadline=self.limits.deadline,
                cancel=self.limits.cancel,
                retry_guard=self._leftovers_of,
            )
        except RevisionFailedError as exc:
            if self.plan.direction is Direction.UP:
                self.leftovers = self._describe_leftovers(revision)
            tail = f"; left behind: {'; '.join(self.leftovers)}" if self.leftovers else ""
            raise self.fail(
                step, f"{revision.id} failed: {str(exc).removeprefix(revision.id + ': ')}{tail}"
            ) from None
        self.applied.append(AppliedRevision(revision.id, revision.message, result.duration_s))
        done = f"{revision.id} {revision.message} ... done in {format_duration(result.duration_s)}"
        self.record(
            step, StepStatus.SUCCEEDED, done, revision=revision.id, duration_s=result.duration_s
        )
        self.emit(
            step, UpdateKind.REVISION_DONE, done, data={"duration_s": result.duration_s}, **where
        )

    def _leftovers_of(self, revision: Revision) -> str | None:
        """For the retry guard: what a failed attempt left that a retry would trip on."""
        found = self._describe_leftovers(revision)
        return "; ".join(found) if found else None

    def _describe_leftovers(self, revision: Revision) -> tuple[str, ...]:
        try:
            partial = detect_partial_application(
                self.handle, revision, sql=self.plan.sql.get(revision.id), before=self.snapshot
            )
        except (AlembicError, MigrateBotError) as exc:
            return (f"could not inspect what {revision.id} left behind: {exc}",)
        return tuple(f"{o.what}; fix: {o.fix}" for o in partial.leftovers if o.needs_action)

    def verify(self) -> None:
        step = RunStep.VERIFY
        self.begin(step, "verifying the result")
        assert self.snapshot is not None
        report = verify_after_run(self.handle, self.plan, self.snapshot, clock=self.context.clock)
        self._record_report(report)
        self.verification = tuple(
            f"{r.verdict.value.upper()} {r.name}: {r.summary}" for r in report.results
        )
        if report.blocks:
            raise self.fail(step, f"verification failed: {_failures(report)}")
        counted = Counter(r.verdict.value for r in report.results)
        tally = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counted.items()))
        self.succeed(step, f"verified: {tally}")

    def restore(self) -> None:
        step = RunStep.RESTORE
        record = self.restore_from
        assert record is not None
        self.begin(step, f"restoring backup {record.id} ({record.uri})")
        try:
            result = restore_backup(
                self.handle,
                record.id,
                store=self.context.store,
                actor=self.context.actor,
                request_id=self.request.id,
                on_progress=lambda p: self.emit(step, UpdateKind.PROGRESS, p.message),
            )
        except MigrateBotError as exc:
            raise self.fail(step, f"restore failed: {exc}") from None
        stamped = " (version table stamped)" if result.stamped_from is not None else ""
        self.verification = (
            f"PASS revision: at {', '.join(record.revisions) or 'base'}, as backed up{stamped}",
            f"PASS row_counts: {result.tables_checked} tables match the backup's counts",
        )
        self.succeed(step, f"restored backup {record.id}; {result.tables_checked} tables checked")

    # after -----------------------------------------------------------------

    def read_database_revisions(self) -> tuple[str, ...] | None:
        """What the version table holds now (None if it cannot be read)."""
        try:
            return AlembicRunner.for_target(self.handle).current()
        except MigrateBotError:
            return None

    def _record_report(self, report: Report) -> None:
        record_report(
            self.context.store, report, actor=self.context.actor, request_id=self.request.id
        )


def _failures(report: Report) -> str:
    return "; ".join(f"{r.name}: {r.summary}" for r in report.results if r.verdict is Verdict.FAIL)
