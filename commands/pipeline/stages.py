"""The steps of one run, each recorded in the audit log and reported as it goes.

A step starts with a ``run_step`` event (so a crash leaves the step it died
in on record), reports progress, and ends succeeded or failed. A failed step
raises ``StageFailed``; the pipeline turns that into the run's outcome. Every
step asks the run's one Alembic child (``session``); the plan's SQL is
rendered in it only when a step needs it (break-glass lint, the verification
explaining a removal, a failed revision's leftovers).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg

from audit.store import StoreError
from commands.backup.records import BackupRecord, Progress
from commands.backup.restore import restore_backup
from commands.backup.take import take_backup
from commands.changes.upgrade_guard import changes_check
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
from commands.checks.forecast.recording import recorded_forecast
from commands.checks.preflight import LIVE_CHECKS, PREFLIGHT_CHECKS
from commands.errors import AlembicError, MigrateBotError, ProjectError
from commands.migration.planning import with_sql
from commands.migration.runtime.executor import RevisionCallbacks, execute_revisions
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, AlembicStopped
from commands.migration.script.plan import Plan, revision_file_name
from commands.migration.script.revision_graph import Direction, Revision
from commands.pipeline.context import RunContext
from commands.pipeline.limits import RunLimits
from commands.pipeline.plans import RequestPlan
from commands.pipeline.progress import AppliedRevision, RunStep, RunUpdate, UpdateKind
from commands.pipeline.records import RunRecord
from commands.pipeline.revision_progress import RevisionProgress
from commands.pipeline.settings import execution_settings
from commands.postgres.connections import connect, server_version
from commands.requests.run_events import StepRecord
from commands.schema.evidence import record_schema_diff
from commands.schema.model import IgnoreRules
from commands.schema.replay_cache import replay_cache
from commands.schema.run_diff import schema_changes
from commands.state.audit_reading import AuditLogBusyError
from commands.state.schema_diffs import SchemaDiffs
from commands.state.vocabulary import StepStatus
from commands.targets import TargetHandle
from commands.units import format_bytes, format_duration

log = logging.getLogger(__name__)


class StageFailed(MigrateBotError):
    """A step of the run failed; the run fails at ``step``."""

    def __init__(self, step: RunStep, message: str) -> None:
        super().__init__(message)
        self.step = step


class Stages:
    """The state one run carries from step to step; its steps are written to ``record``."""

    def __init__(
        self,
        context: RunContext,
        record: RunRecord,
        handle: TargetHandle,
        *,
        planned: RequestPlan,
        limits: RunLimits,
        on_update: Callable[[RunUpdate], None],
        session: AlembicSession,
    ) -> None:
        self.context = context
        self.record_to = record
        self.request = record.request
        self.handle = handle
        self.session = session
        self.state = planned.state
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
        self.schema_summary: str | None = None  # "2 tables changed", once the diff is kept
        self.server_version: str | None = None
        # what the approver saw (a break-glass request's own pre-flight makes it below); a
        # fleet's was sized on its largest member: no measure of another member's run
        preflight = self.request.preflight
        seen = recorded_forecast(preflight.checks if preflight else ())
        self.forecast = seen if seen is not None and seen.target == self.request.target else None

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

    def record(self, step: RunStep, status: StepStatus, detail: str = "") -> None:
        self.record_many([StepRecord(step.value, status, detail=detail)])

    def record_many(self, steps: list[StepRecord]) -> None:
        self.record_to.steps(actor=self.context.actor, steps=steps)

    def begin(self, step: RunStep, message: str) -> None:
        self.limits.check(step.value)
        self.current = step
        self.record(step, StepStatus.STARTED, message)
        self.emit(step, UpdateKind.STARTED, message)

    def succeed(self, step: RunStep, message: str) -> None:
        self.record(step, StepStatus.SUCCEEDED, message)
        self.emit(step, UpdateKind.SUCCEEDED, message)

    def fail(self, step: RunStep, message: str) -> StageFailed:
        self.record(step, StepStatus.FAILED, message)
        self.emit(step, UpdateKind.FAILED, message)
        return StageFailed(step, message)

    # steps -------------------------------------------------------------------

    def preflight(self) -> None:
        step = RunStep.PREFLIGHT
        self.begin(step, "pre-flight checks")
        # lint and review read the revision files the approval's fingerprint pins: done
        # when the request was made; a break-glass request made none, so it gets them now
        checks = LIVE_CHECKS if self.request.preflight is not None else PREFLIGHT_CHECKS
        checks = (*checks, changes_check(self.context.store))  # a change started since
        report = run_preflight(
            self.handle,
            to=self.request.goal,
            direction=self.plan.direction,
            clock=self.context.clock,
            open_other=self.context.target,
            session=self.session,
            checks=checks,
            known=(self.state, self.plan) if self.state is not None else None,
            schema_cache=replay_cache(self.context.config),
        )
        if report.plan is not None:
            self.plan = report.plan  # with its SQL when lint rendered it
        self.server_version = report.server_version
        if self.forecast is None:
            self.forecast = recorded_forecast(r.to_json() for r in report.results)
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
                version_table=self.plan.version_table,
                planned_current=self.plan.current,
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
        major = self._server_major()
        progress = RevisionProgress(self, total)
        try:
            execute_revisions(
                self.session,
                self.handle.database,
                self.plan.revisions,
                self.plan.direction,
                settings=execution_settings(self.handle.config, server_major=major),
                label=self.request.id,
                callbacks=RevisionCallbacks(progress.start, progress.done, progress.event),
                deadline=self.limits.deadline,
                cancel=self.limits.cancel,
                retry_guard=self._leftovers_of,
            )
        except AlembicStopped:
            raise
        except AlembicError as exc:
            progress.flush()
            raise self.fail(step, self._failure_text(exc)) from None
        finally:
            with contextlib.suppress(MigrateBotError):  # a stopped run: its outcome says so
                progress.flush()
        self.succeed(step, f"{total} revision(s) {'applied' if verb == 'applying' else 'undone'}")

    def _server_major(self) -> int:
        """The server's major version: as pre-flight found it, else asked now."""
        if self.server_version:
            return int(self.server_version.split(".")[0])
        with connect(self.handle.database) as conn:
            major, _ = server_version(conn)
        return major

    def _failure_text(self, error: AlembicError) -> str:
        """'<rev> (versions/….py) failed: <Alembic's message>[; left behind: …]'."""
        revision = next((r for r in self.plan.revisions if r.id == error.revision), None)
        if revision is None:
            return f"the migration failed before any revision ran: {error}"
        if self.plan.direction is Direction.UP:
            self.leftovers = self._describe_leftovers(revision)
        tail = f"; left behind: {'; '.join(self.leftovers)}" if self.leftovers else ""
        reason = str(error).removeprefix(revision.id + ": ")
        place = revision_file_name(revision)
        project = _project_error(error)
        as_raised = project is not None and reason == str(project).removeprefix(revision.id + ": ")
        if project is not None and as_raised:
            # the run's messages name the target and the revision: say the line and the cause
            path, _, line = (project.where or "").rpartition(":")
            place += f":{line}" if path.endswith(place) and line.isdigit() else ""
            reason = project.detail + (f" — {project.hint}" if project.hint else "")
        return f"{revision.id} ({place}) failed: {reason}{tail}"

    def _leftovers_of(self, revision: Revision) -> str | None:
        """For the retry guard: what a failed attempt left that a retry would trip on."""
        found = self._describe_leftovers(revision)
        return "; ".join(found) if found else None

    def _describe_leftovers(self, revision: Revision) -> tuple[str, ...]:
        try:
            partial = detect_partial_application(
                self.handle,
                revision,
                sql=self.plan.sql.get(revision.id),
                before=self.snapshot,
                session=self._live_session(),
            )
        except (AlembicError, MigrateBotError) as exc:
            return (f"could not inspect what {revision.id} left behind: {exc}",)
        return tuple(f"{o.what}; fix: {o.fix}" for o in partial.leftovers if o.needs_action)

    def _current_state(self) -> tuple[str, ...]:
        """The revisions the database is at, as the plan names its destination."""
        rows = self.session.current(step="verifying the result")
        return rows if self.state is None else self.state.graph.rows_state(rows)

    def verify(self) -> None:
        step = RunStep.VERIFY
        self.begin(step, "verifying the result")
        assert self.snapshot is not None
        after = snapshot_catalog(self.handle.database, watch_tables=self.handle.config.watch_tables)
        self.keep_schema_diff(after)
        report = verify_after_run(
            self.handle,
            self.plan,
            self.snapshot,
            clock=self.context.clock,
            read_current=self._current_state,
            compare_models=self.session.compare_models,
            sql_preview=self._with_sql,
            after=after,
        )
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
            session = self._live_session()
            if session is not None:
                return session.current()
            return AlembicRunner.for_target(self.handle).current()
        except MigrateBotError:
            return None

    def _live_session(self) -> AlembicSession | None:
        """The run's child, unless it was stopped (a deadline kills its process group)."""
        return self.session if self.session.alive else None

    def _with_sql(self, plan: Plan) -> Plan:
        if self.state is None:
            return plan
        self.plan = with_sql(self.session, plan, self.state)
        return self.plan

    def keep_schema_diff(self, after: CatalogSnapshot | None = None) -> None:
        """What the run did to the schema, kept as evidence (an event and the diff), once:
        at verification, or at the outcome of a run that failed after its snapshot
        (``after`` read now; a database that cannot be read then keeps none)."""
        if self.snapshot is None or self.schema_summary is not None:
            return
        if after is None:
            try:
                after = snapshot_catalog(self.handle.database)
            except MigrateBotError:
                return
        ignore = IgnoreRules(version_table=self.plan.version_table)
        changes = schema_changes(self.snapshot.schema.without(ignore), after.schema.without(ignore))
        try:
            record_schema_diff(
                self.context.store,
                SchemaDiffs(self.context.config.bot.state),
                changes,
                request_id=self.request.id,
                target=self.handle.name,
                actor=self.context.actor,
            )
        except (StoreError, AuditLogBusyError, sqlite3.Error, psycopg.Error) as exc:
            # evidence is never worth the run's outcome: the log says the rest
            log.warning("run %s: its schema diff could not be kept: %s", self.request.id, exc)
            return
        self.schema_summary = changes.summary()

    def _record_report(self, report: Report) -> None:
        record_report(
            self.context.store, report, actor=self.context.actor, request_id=self.request.id
        )


def _failures(report: Report) -> str:
    return "; ".join(f"{r.name}: {r.summary}" for r in report.results if r.verdict is Verdict.FAIL)


def _project_error(error: BaseException) -> ProjectError | None:
    """The project's own error behind a run's failure (the executor's wraps it)."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, ProjectError):
        seen = seen.__cause__ or seen.__context__
    return seen
