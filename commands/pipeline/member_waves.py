"""Running an approved fleet request: its members in waves, each one database's run.

The fleet's run starts once (``start_run``: approved, not frozen, approvals
still good). Then wave after wave: inside a wave up to ``concurrency``
members at once, each one through the run of one database it is handed
(``run_database``, with a ``MemberRecord``: run lock, its plan checked against
the approved one, pre-flight, backup, revisions, verify). A wave starts only
when the one before finished without reaching ``max_failures``. No new
member starts once failures reach ``max_failures`` (running ones finish),
nor after Stop, a freeze of the fleet or the end of its window (running ones
are then aborted at a revision boundary, or finish, as a single run would).
Nothing resumes by itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.config.fleet import FleetSettings
from commands.errors import ConfigError, MigrateBotError
from commands.fleet.set_plan import members_to_run
from commands.fleet.waves import split_waves
from commands.pipeline.context import RunContext
from commands.pipeline.outcomes import fleet_outcome, outcome_details
from commands.pipeline.progress import (
    FleetOutcome,
    FleetUpdate,
    FleetUpdateKind,
    RunOutcome,
    RunUpdate,
    UpdateKind,
)
from commands.pipeline.records import MemberRecord
from commands.pipeline.run_lock import RunLockHeldError
from commands.requests import Request, TargetFrozenError
from commands.requests.errors import MemberDriftedError
from commands.state.vocabulary import MemberState, RequestState
from commands.targets import MemberNotListedError

log = logging.getLogger(__name__)

FleetSink = Callable[[FleetUpdate], None]
RunDatabase = Callable[[MemberRecord, Callable[[RunUpdate], None]], RunOutcome]
"""How one member's database is run, given its record and where its updates go."""
FAILING = (MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)


def ignore_fleet_updates(_: FleetUpdate) -> None:
    """The default sink: nobody is watching."""


@dataclass
class _Progress:
    """What the waves share while they run: counts, members in flight, why it stops."""

    settings: FleetSettings
    cancel: threading.Event
    until: datetime | None
    failures: int = 0
    running: int = 0
    stop_reason: str | None = None
    aborted: bool = False  # stopped on purpose (Stop, a freeze, the window), not by failures
    broken: bool = False  # stopped by an error of its own: it failed, whatever the members did
    lock: threading.Condition = field(default_factory=threading.Condition)


@dataclass(frozen=True)
class _Turn:
    """One member's turn in a fleet request's run."""

    request: Request
    member: str
    wave: int


class MemberWaves:
    """Runs one approved fleet request to its outcome; one instance per run.

    ``on_update`` gets the fleet's news; ``thread`` runs first in each member's
    thread (a front lowers its CPU priority)."""

    def __init__(
        self,
        context: RunContext,
        request: Request,
        *,
        on_update: FleetSink = ignore_fleet_updates,
        thread: Callable[[], None] | None = None,
    ) -> None:
        self.context = context
        self.request = request
        self.on_update = on_update
        self.thread = thread

    def run(
        self,
        run_database: RunDatabase,
        *,
        until: datetime | None = None,
        cancel: threading.Event | None = None,
    ) -> FleetOutcome:
        """Run the fleet's members, each through ``run_database``; raises, before any
        member starts, what ``start_run`` refuses (not approved, frozen, expired…) and
        ``ConfigError`` when the target is not a fleet any more."""
        requests = self.context.requests
        request = self.request
        self.run_database = run_database
        try:
            settings = self.context.config.target(request.target).fleet
            if settings is None:
                raise ConfigError(request.target, None, "is no longer a fleet: ask again")
            request = requests.start_run(
                request.id,
                actor=self.context.actor,
                fingerprint_now=request.fingerprint,
                owner={"host": socket.gethostname(), "pid": str(os.getpid())},
            )
        except MigrateBotError as refusal:  # the request ends refused, with the reason
            requests.refuse_run(request.id, actor=self.context.actor, reason=str(refusal))
            raise
        started_at = self.context.clock()
        progress = _Progress(settings, cancel or threading.Event(), until)
        waves = split_waves(members_to_run(request.fingerprint), settings.waves)
        try:
            with ThreadPoolExecutor(
                settings.concurrency, thread_name_prefix="member", initializer=self.thread
            ) as pool:
                for number, wave in enumerate(waves, start=1):
                    if self._should_stop(progress, request):
                        break
                    self._run_wave(pool, request, number, wave, progress)
        except Exception as exc:  # a bug, or a log that took no record: end it, then surface
            log.exception("fleet run %s stopped unexpectedly", request.id)
            progress.stop_reason, progress.broken = f"internal error: {exc}", True
            self._finish(request.id, progress, started_at)
            raise
        return self._finish(request.id, progress, started_at)

    # waves ---------------------------------------------------------------------

    def _run_wave(
        self,
        pool: ThreadPoolExecutor,
        request: Request,
        number: int,
        wave: tuple[str, ...],
        progress: _Progress,
    ) -> None:
        actor = self.context.actor
        self.context.requests.start_wave(request.id, actor=actor, wave=number, members=wave)
        self._emit(
            request,
            FleetUpdateKind.WAVE_STARTED,
            f"wave {number}: {len(wave)} member(s)",
            wave=number,
        )
        futures: list[Future[MemberState | None]] = []
        for member in wave:
            with progress.lock:
                while progress.running >= progress.settings.concurrency:
                    progress.lock.wait(0.5)
                if self._should_stop(progress, request):
                    break
                progress.running += 1
            futures.append(pool.submit(self._member, request, member, number, progress))
        wait(futures)
        counts = self._counts(futures)
        self.context.requests.finish_wave(request.id, actor=actor, wave=number, counts=counts)
        summary = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no member ran"
        self._emit(
            request,
            FleetUpdateKind.WAVE_FINISHED,
            f"wave {number}: {summary}",
            wave=number,
            data={"counts": counts},
        )

    def _should_stop(self, progress: _Progress, request: Request) -> bool:
        """Whether no new member may start now (saying so once)."""
        reason, aborted = None, False
        if progress.stop_reason is not None:
            return True
        if progress.cancel.is_set():
            reason, aborted = "the run was stopped", True
        elif progress.until is not None and self.context.clock() >= progress.until:
            reason, aborted = "the maintenance window ended", True
        elif progress.failures >= progress.settings.max_failures:
            reason = f"max_failures ({progress.settings.max_failures}) reached"
        if reason is None:
            return False
        progress.stop_reason, progress.aborted = reason, aborted
        self._emit(request, FleetUpdateKind.STOPPING, f"no new member starts: {reason}")
        return True

    # one member ------------------------------------------------------------------

    def _member(
        self, request: Request, member: str, wave: int, progress: _Progress
    ) -> MemberState | None:
        """One member's turn; its state at the end (``None``: it could not start because
        the fleet was frozen meanwhile)."""
        state = None
        try:
            state = self._run_member(_Turn(request, member, wave), progress)
        finally:  # counted before its slot frees, so no member starts past max_failures
            with progress.lock:
                if state in FAILING and not progress.cancel.is_set():
                    progress.failures += 1
                progress.running -= 1
                progress.lock.notify_all()
        return state

    def _run_member(self, turn: _Turn, progress: _Progress) -> MemberState | None:
        record = MemberRecord(self.context.requests, turn.request, turn.member, wave=turn.wave)
        self._emit_member(turn, FleetUpdateKind.MEMBER_STARTED, MemberState.RUNNING, "starting")
        try:
            outcome = self.run_database(record, self._member_sink(turn))
        except MemberDriftedError as drift:
            return self._ended(turn, MemberState.SKIPPED, str(drift))
        except TargetFrozenError as frozen:
            with progress.lock:
                progress.stop_reason, progress.aborted = str(frozen), True
            return None
        except (RunLockHeldError, MemberNotListedError) as exc:
            self.context.requests.skip_member(
                turn.request.id,
                member=turn.member,
                actor=self.context.actor,
                reason=str(exc),
                wave=turn.wave,
            )
            return self._ended(turn, MemberState.SKIPPED, str(exc))
        except MigrateBotError as exc:
            return self._failed_to_start(turn, record, str(exc))
        except Exception as exc:  # a bug: the member is recorded failed, the run goes on
            log.exception("%s's member %s failed unexpectedly", turn.request.id, turn.member)
            return self._failed_to_start(turn, record, f"internal error: {exc}")
        return self._ended(turn, _member_state(outcome), outcome.error or "", outcome)

    def _failed_to_start(self, turn: _Turn, record: MemberRecord, error: str) -> MemberState:
        """A member that could not be run (unreachable, unplannable…) has failed: recorded
        here, unless its run recorded its end itself (it had started)."""
        if not record.started:
            self.context.requests.finish_member(
                turn.request.id,
                member=turn.member,
                actor=self.context.actor,
                outcome=RequestState.FAILED,
                reason=error,
                details={"failed_step": "start"},
            )
        return self._ended(turn, MemberState.FAILED, error)

    def _ended(
        self, turn: _Turn, state: MemberState, error: str, outcome: RunOutcome | None = None
    ) -> MemberState:
        data: dict[str, object] = {"error": error} if error else {}
        if outcome is not None:
            data["duration_s"] = round(outcome.duration_s, 3)
            data["failed_step"] = outcome.failed_step.value if outcome.failed_step else None
            if outcome.backup:
                data["backup_id"] = outcome.backup.get("id")
        words = state.value + (f": {error}" if error else "")
        self._emit_member(turn, FleetUpdateKind.MEMBER_ENDED, state, words, data)
        return state

    def _member_sink(self, turn: _Turn) -> Callable[[RunUpdate], None]:
        """A member's run updates, passed on as fleet news when a step starts or a
        revision ends."""

        def sink(update: RunUpdate) -> None:
            if update.kind not in (UpdateKind.REVISION_DONE, UpdateKind.STARTED):
                return
            if update.kind is UpdateKind.STARTED and update.revision is not None:
                return  # a revision's start: its end is the news
            data = {"step": update.step.value, "index": update.index, "total": update.total}
            self._emit_member(
                turn, FleetUpdateKind.MEMBER_PROGRESS, MemberState.RUNNING, update.message, data
            )

        return sink

    def _emit_member(
        self,
        turn: _Turn,
        kind: FleetUpdateKind,
        state: MemberState,
        message: str,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self._emit(
            turn.request,
            kind,
            f"{turn.member} {message}",
            wave=turn.wave,
            member=turn.member,
            state=state,
            data=dict(data or {}),
        )

    # the end ---------------------------------------------------------------------

    def _finish(self, request_id: str, progress: _Progress, started_at: datetime) -> FleetOutcome:
        request = self.context.requests.get(request_id)
        outcome = fleet_outcome(
            request,
            stop_reason=progress.stop_reason,
            aborted=progress.aborted,
            broken=progress.broken,
            started_at=started_at,
            finished_at=self.context.clock(),
        )
        self.context.requests.finish_run(
            request_id,
            actor=self.context.actor,
            outcome=outcome.state,
            reason=outcome.error or "",
            details=outcome_details(outcome),
        )
        return outcome

    @staticmethod
    def _counts(futures: list[Future[MemberState | None]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for future in futures:
            state = future.result()
            if state is not None:
                counts[state.value] = counts.get(state.value, 0) + 1
        return counts

    def _emit(
        self,
        request: Request,
        kind: FleetUpdateKind,
        message: str,
        *,
        wave: int | None = None,
        member: str | None = None,
        state: MemberState | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        update = FleetUpdate(
            request_id=request.id,
            target=request.target,
            kind=kind,
            message=message,
            at=self.context.clock(),
            wave=wave,
            member=member,
            state=state,
            data=dict(data or {}),
        )
        self.on_update(update)  # a safe sink: a watcher's failure never fails the run


def _member_state(outcome: RunOutcome) -> MemberState:
    return {
        RequestState.SUCCEEDED: MemberState.SUCCEEDED,
        RequestState.FAILED: MemberState.FAILED,
        RequestState.ABORTED: MemberState.ABORTED,
    }.get(outcome.state, MemberState.FAILED)
