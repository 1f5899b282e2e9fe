"""What both fronts call for backfills: ask (with its pre-flight), approve, pause,
resume, stop, and the engine for a run.

The approval policy is the target's own: the requester never approves, and
only its approvers may approve, pause, resume or stop a backfill (the
buttons are theirs), as for migrations.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from audit.store import EventStore
from commands.backfill.engine import Engine, Notify
from commands.backfill.ledger import BackfillLedger
from commands.backfill.model import BackfillRun
from commands.backfill.preflight import check_backfill
from commands.config.backfill import BackfillSpec
from commands.config.targets_file import Config
from commands.errors import ExitCode, MigrateBotError
from commands.postgres.connections import connect
from commands.postgres.database_url import DatabaseUrl
from commands.requests.policy import ApprovalPolicy, GroupLookup, check_approver, no_group_members
from commands.targets import TargetHandle, TargetOpener, open_target, url_from_environment


class UnknownBackfillError(MigrateBotError):
    exit_code = ExitCode.BAD_INPUT

    def __init__(self, target: str, name: str, known: list[str]) -> None:
        listed = ", ".join(known) if known else f"none: add [targets.{target}.backfills.NAME]"
        super().__init__(f"{target} has no backfill {name!r} (backfills: {listed})")


@dataclass(frozen=True)
class Backfills:
    """The backfill operations of one bot process (or CLI command)."""

    config: Config
    store: EventStore
    open_target: TargetOpener = open_target
    lookup: GroupLookup = no_group_members
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @property
    def ledger(self) -> BackfillLedger:
        return BackfillLedger(self.store)

    def spec(self, target: str, name: str) -> BackfillSpec:
        """``[targets.TARGET.backfills.NAME]``; raises ``UnknownBackfillError``."""
        backfills = self.config.target(target).backfills
        if name not in backfills:
            raise UnknownBackfillError(target, name, sorted(backfills))
        return backfills[name]

    def ask(
        self,
        target: str,
        spec: BackfillSpec,
        *,
        requester: str,
        origin: Mapping[str, str] | None = None,
        change: str | None = None,
        phase: int | None = None,
    ) -> BackfillRun:
        """Pre-flight (raises ``BackfillCheckError``) and record the run awaiting approval."""
        handle = self.open_target(self.config.target(target))
        with connect(handle.database) as conn:
            estimate = check_backfill(conn, spec)
        return self.ledger.ask(
            target=handle.name,
            spec=spec,
            estimate=estimate,
            requester=requester,
            origin=origin,
            change=change,
            phase=phase,
        )

    def approve(self, run_id: str, *, approver: str) -> BackfillRun:
        """Raises ``SelfApprovalError``, ``NotAnApproverError``, ``BackfillStateError``."""
        run = self.ledger.load(run_id)
        groups = self._check(run, approver, run.requester, "approve")
        return self.ledger.approve(run_id, approver=approver, groups=groups)

    def pause(self, run_id: str, *, by: str) -> BackfillRun:
        self._check(self.ledger.load(run_id), by, None, "pause")
        return self.ledger.pause(run_id, by=by)

    def resume(self, run_id: str, *, by: str) -> BackfillRun:
        self._check(self.ledger.load(run_id), by, None, "resume")
        return self.ledger.resume(run_id, by=by)

    def stop(self, run_id: str, *, by: str) -> BackfillRun:
        self._check(self.ledger.load(run_id), by, None, "stop")
        return self.ledger.stop(run_id, by=by)

    def cancel(self, run_id: str, *, by: str, reason: str = "") -> BackfillRun:
        """The requester withdraws it, or an approver rejects it, before it ran."""
        run = self.ledger.load(run_id)
        if by != run.requester:
            self._check(run, by, None, "reject")
        return self.ledger.cancel(run_id, by=by, reason=reason)

    def engine(
        self,
        run_id: str,
        notify: Notify | None = None,
        stopping: threading.Event | None = None,
    ) -> Engine:
        """The engine for ``run_id`` on its target's database (and replica, if any);
        ``stopping`` set (the bot shutting down) interrupts it at a batch boundary."""
        run = self.ledger.load(run_id)
        handle = self.open_target(self.config.target(run.target))
        return Engine(
            ledger=self.ledger,
            database=handle.database,
            replica=self.replica_of(handle),
            notify=notify or (lambda run: None),
            stopping=stopping or threading.Event(),
        )

    def database_of(self, target: str) -> DatabaseUrl:
        return self.open_target(self.config.target(target)).database

    def replica_of(self, handle: TargetHandle) -> DatabaseUrl | None:
        variable = handle.config.replica_url_env
        if variable is None:
            return None
        key = f"targets.{handle.name}.replica_url_env"
        return url_from_environment(variable, key, self.environ)

    def _check(
        self, run: BackfillRun, user: str, requester: str | None, action: str
    ) -> tuple[str, ...]:
        policy = ApprovalPolicy.for_target(self.config.target(run.target))
        return check_approver(
            policy,
            user=user,
            requester=requester,
            request_id=run.id,
            lookup=self.lookup,
            action=action,
        )
