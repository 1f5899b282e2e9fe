"""Running an approved request: ``run_request``, and the runbook's steps on one database.

A request runs on its target's databases: its own one, or a fleet's members.
``run_request`` reads the request, and runs it on its one database
(``run_database``, recorded as the request's own run) or hands a fleet's
members to ``MemberWaves``, which runs each one through the same
``run_database``, recorded as that member's turn (``records``). What a front
adds around the path (log lines tagged with the request and the database, a
lower CPU priority for members) comes in as ``RunWrappers``, never as a
subclass in the middle of it.

``run_database`` is the runbook, in order: the run lock on the database →
the plan computed again (an inspect, no SQL) and checked against the
approval (``record.start``) → the ``before_run`` hooks → pre-flight → a
catalog snapshot → the backup (nothing else runs unless it succeeds) → the
revisions, stepped one at a time through one env.py run, under lock retries
and the lock monitor → verification → the ``after_run`` hooks (whatever
happened) → the outcome. One Alembic child serves the whole run. A restore
runs: backup of the current state → restore → its checks. Anything that
stops it before the run starts is recorded as refused, with the reason.

Past ``max_duration`` (or the window's end) the revision in flight is
stopped, PostgreSQL rolls it back, and the run is ``aborted`` at the
revision the database then holds. Every way a run ends is recorded with
``record.finish`` and offers the runbook's ways back. A step whose record the
audit log cannot take (another process holds the file) ends the run there;
its outcome waits up to ``WRITE_PATIENCE_S`` for the file to be free.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.store import StoreError
from commands.checks.forecast.recording import record_score, scored
from commands.checks.forecast.scoring import Score
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner, AlembicSession, AlembicStopped
from commands.pipeline.context import RunContext
from commands.pipeline.hook_steps import run_after_hooks, run_before_hooks
from commands.pipeline.limits import RunAborted, RunLimits
from commands.pipeline.member_waves import MemberWaves
from commands.pipeline.plans import plan_request
from commands.pipeline.progress import RunOutcome, RunStep, RunUpdate, Update, UpdateKind
from commands.pipeline.records import RequestRecord, RunRecord
from commands.pipeline.rollback import rollback_offers
from commands.pipeline.run_lock import run_lock
from commands.pipeline.stages import StageFailed, Stages
from commands.pipeline.watch import RunWatch
from commands.state.audit_reading import AuditLogBusyError, AuditLogUnavailableError
from commands.state.busy import write_when_free
from commands.state.outbox import OutboxBusyError
from commands.state.vocabulary import RequestKind, RequestState
from commands.targets import TargetHandle

log = logging.getLogger(__name__)

UpdateSink = Callable[[Update], None]


def ignore_updates(_: Update) -> None:
    """The default sink: nobody is watching."""


def _no_context(_request_id: str, _target: str) -> AbstractContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class RunWrappers:
    """What a front puts around the run path. ``around(request_id, target)`` is entered
    around the request's run and around each of its databases' (a member's, in the
    member's thread); ``member_thread`` runs first in each thread a fleet's member runs in."""

    around: Callable[[str, str], AbstractContextManager[None]] = _no_context
    member_thread: Callable[[], None] | None = None


NO_WRAPPERS = RunWrappers()


def run_request(
    context: RunContext,
    request_id: str,
    *,
    on_update: UpdateSink = ignore_updates,
    until: datetime | None = None,
    cancel: threading.Event | None = None,
    session: AlembicSession | None = None,
    wrappers: RunWrappers = NO_WRAPPERS,
) -> RunOutcome:
    """Run an approved request to its outcome, on each of its databases.

    ``until`` (a maintenance window's end) caps ``max_duration``; ``cancel`` set
    stops it (a fleet starts no new member, running ones stop at a revision
    boundary). ``session`` is an Alembic child the caller opened for a single
    target and hands over (the terminal planned in it): the run uses it, and
    closes it. A fleet's watcher gets ``FleetUpdate``s. Raises, before anything
    runs: ``RunLockHeldError`` (another run holds the database), the request
    service's refusals from ``start_run`` (not approved, plan changed, expired,
    frozen…), ``RevisionError`` or ``UnknownBackupError`` when the plan cannot be
    made again, ``ConfigError`` when a fleet is no longer one.
    """
    request = context.requests.get(request_id)
    watcher = _safe(on_update)
    cancel = cancel or threading.Event()

    def database(record: RunRecord, sink: Callable[[RunUpdate], None]) -> RunOutcome:
        with wrappers.around(request.id, record.request.target):
            return run_database(
                context, record, on_update=sink, until=until, cancel=cancel, session=session
            )

    with wrappers.around(request.id, request.target):
        if request.is_fleet:  # its members, wave after wave, each one database
            waves = MemberWaves(context, request, on_update=watcher, thread=wrappers.member_thread)
            return waves.run(database, until=until, cancel=cancel)
        return database(RequestRecord(context.requests, request), watcher)


def run_database(
    context: RunContext,
    record: RunRecord,
    *,
    on_update: Callable[[RunUpdate], None] = ignore_updates,
    until: datetime | None = None,
    cancel: threading.Event | None = None,
    session: AlembicSession | None = None,
) -> RunOutcome:
    """The runbook's steps on ``record``'s database, to the run's outcome; raises what
    ``run_request`` says, before anything runs (``record.refuse`` has it on file)."""
    request = record.request
    started = False
    try:
        handle = context.target(request.target)
        label = f"{request.id} {request.kind} by {request.requester}"
        with run_lock(handle.database, label=label), _handed_or_new(session, handle) as alembic:
            planned = plan_request(
                handle,
                alembic,
                kind=request.kind,
                goal=request.goal,
                store=context.store,
                with_sql=False,
            )
            record.start(
                actor=context.actor,
                fingerprint_now=planned.fingerprint,
                owner={"host": socket.gethostname(), "pid": str(os.getpid())},
            )
            started = True
            limits = _limits(context, handle, until, cancel or threading.Event())
            stages = Stages(
                context,
                record,
                handle,
                planned=planned,
                limits=limits,
                on_update=on_update,
                session=alembic,
            )
            return _steps(context, record, stages, limits)
    except MigrateBotError as refusal:
        if not started:
            record.refuse(actor=context.actor, reason=str(refusal))
        raise


def _limits(
    context: RunContext, handle: TargetHandle, until: datetime | None, cancel: threading.Event
) -> RunLimits:
    budget = handle.config.max_duration
    reason = f"max_duration ({budget:g} s) reached"
    if until is not None:
        window = (until - context.clock()).total_seconds()
        if window < budget:
            budget, reason = max(window, 0.0), "the maintenance window ended"
    return RunLimits(time.monotonic() + budget, cancel, reason)


def _steps(context: RunContext, record: RunRecord, stages: Stages, limits: RunLimits) -> RunOutcome:
    """The steps in order, then the outcome, recorded whatever happened."""
    request = stages.request
    started_at = context.clock()
    state, failed_step, error = RequestState.SUCCEEDED, None, None
    watch = RunWatch.at_run_start(context, request, stages.handle)  # "before" ends here
    try:
        run_before_hooks(stages)
        if request.kind is RequestKind.RESTORE:
            stages.backup()
            stages.restore()
        else:
            stages.preflight()
            stages.backup()
            stages.apply()
            stages.verify()
    except StageFailed as failure:
        state, failed_step, error = RequestState.FAILED, failure.step, str(failure)
    except (RunAborted, AlembicStopped) as stop:
        state, failed_step, error = RequestState.ABORTED, stages.current, limits.why(stop)
    except (StoreError, AuditLogUnavailableError) as exc:  # no record, so no next step
        log.warning("run %s stopped: %s", request.id, exc)
        state, failed_step, error = RequestState.FAILED, stages.current, str(exc)
    except Exception as exc:  # a bug: still end the run in the log, then let it surface
        log.exception("run %s failed unexpectedly", request.id)
        run_after_hooks(stages, RequestState.FAILED)
        _finish(
            context,
            record,
            stages,
            state=RequestState.FAILED,
            failed_step=stages.current,
            error=f"internal error: {exc}",
            started_at=started_at,
        )
        raise
    run_after_hooks(stages, state)
    outcome = _finish(
        context,
        record,
        stages,
        state=state,
        failed_step=failed_step,
        error=error,
        started_at=started_at,
    )
    if watch is not None:
        watch.after(outcome)  # a success starts the watch; the lock is released after
    return outcome


def _finish(
    context: RunContext,
    record: RunRecord,
    stages: Stages,
    *,
    state: RequestState,
    failed_step: RunStep | None,
    error: str | None,
    started_at: datetime,
) -> RunOutcome:
    request = stages.request
    stages.keep_schema_diff()  # a run that failed after its snapshot keeps its diff too
    database_revisions = stages.read_database_revisions()
    ran = [(applied.revision, applied.duration_s) for applied in stages.applied]
    forecast = scored(stages.forecast, ran, source="run")
    outcome = RunOutcome(
        request_id=request.id,
        target=request.target,
        kind=request.kind.value,
        state=state,
        failed_step=failed_step,
        error=error,
        started_at=started_at,
        finished_at=context.clock(),
        from_revisions=stages.plan.current,
        planned_revisions=tuple(r.id for r in stages.plan.revisions),
        database_revisions=database_revisions,
        applied=tuple(stages.applied),
        backup=stages.backup_summary,
        verification=stages.verification,
        leftovers=stages.leftovers,
        forecast=forecast,
        schema=stages.schema_summary,
    )
    outcome = rollback_offers(outcome, stages.plan)
    _record_outcome(
        context,
        record,
        outcome=state,
        reason=error or "",
        details={
            "failed_step": failed_step.value if failed_step else None,
            "database_revisions": list(database_revisions or ()),
            "applied": [a.revision for a in outcome.applied],
            "backup_id": (outcome.backup or {}).get("id"),
            "duration_s": round(outcome.duration_s, 3),
        },
    )
    if forecast is not None:
        _record_score(context, stages, forecast)
    stages.emit(
        stages.current or RunStep.PREFLIGHT,
        UpdateKind.SUCCEEDED if outcome.succeeded else UpdateKind.FAILED,
        f"{request.id} {state.value}" + (f": {error}" if error else ""),
    )
    return outcome


def _record_score(context: RunContext, stages: Stages, forecast: Score) -> None:
    """The run beside its forecast, for the rates to learn; after the outcome, which matters
    more: a state file too busy to take it loses a lesson, never a run's record."""
    try:
        record_score(
            context.store,
            forecast,
            target=stages.request.target,
            actor=context.actor,
            request_id=stages.request.id,
        )
    except StoreError as exc:
        log.warning("run %s: its forecast's score was not recorded: %s", stages.request.id, exc)


def _record_outcome(
    context: RunContext,
    record: RunRecord,
    *,
    outcome: RequestState,
    reason: str,
    details: dict[str, Any],
) -> None:
    """``record.finish``, tried again while another process holds the log, for up to
    ``WRITE_PATIENCE_S``. Past that the run stays ``running`` in the log until the next
    start marks it interrupted."""
    request_id = record.request.id

    def waiting() -> None:
        log.warning("run %s %s; its record waits for the audit log", request_id, outcome.value)
        time.sleep(1)

    try:
        write_when_free(
            lambda: record.finish(
                actor=context.actor, outcome=outcome, reason=reason, details=details
            ),
            busy=AuditLogBusyError,
            waiting=waiting,
        )
    except AuditLogBusyError as exc:
        raise RuntimeError(f"run {request_id} {outcome.value}, unrecorded") from exc


@contextmanager
def _handed_or_new(
    session: AlembicSession | None, handle: TargetHandle
) -> Iterator[AlembicSession]:
    if session is None:
        with AlembicRunner.for_target(handle).session() as new:
            yield new
    else:
        try:
            yield session
        finally:
            session.close()


def _safe(sink: UpdateSink) -> UpdateSink:
    """A watcher's failure (Slack down, a bug in a view) must never fail the run."""

    def deliver(update: Update) -> None:
        try:
            sink(update)
        except OutboxBusyError as exc:  # the step's own record says it; the next update redraws
            log.warning("a run update was not queued: %s", exc)
        except Exception:
            log.exception("a run update could not be delivered")

    return deliver
