"""What the bot does first after a crash: find the runs that died with it.

A request still ``running`` whose database run lock is free has no process
behind it any more: it becomes ``interrupted``, with the step it was in and
the revision the database actually holds, and the operators are told. It is
never resumed: a human decides, and a retry needs a new approval. Leftovers
of an interrupted backup (partial files, open multipart uploads, scratch
databases) are cleaned up and recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.pipeline.context import BOT_ACTOR, RunContext
from commands.pipeline.run_lock import RunLockHeldError, run_lock
from commands.requests import Request
from commands.state.vocabulary import RequestState
from commands.targets import TargetHandle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InterruptedRun:
    """A run found dead at start-up, and where its database was left."""

    request: Request
    step: str | None
    last_revision_applied: str | None
    database_revisions: tuple[str, ...] | None


def recover_interrupted(
    context: RunContext, targets: Collection[str] | None = None
) -> list[InterruptedRun]:
    """Mark dead runs interrupted and clean up after them; what was found, for announcing.

    ``targets``: only these (a worker of one network looks only at the targets it
    reaches); default every configured target.
    """
    requests, store = context.requests, context.store
    running = [  # a fleet's run is explained member by member (commands/fleet/recovery.py)
        request
        for request in requests.requests(states=[RequestState.RUNNING], limit=1000)
        if not request.is_fleet and (targets is None or request.target in targets)
    ]
    dead_targets: dict[str, TargetHandle] = {}
    observed: dict[str, tuple[str, ...] | None] = {}
    for request in running:
        if request.target in dead_targets:
            continue
        handle = _open(context, request.target)
        if handle is not None and _lock_free(handle):
            dead_targets[request.target] = handle
            observed[request.target] = _database_revisions(handle)
    interrupted = requests.mark_interrupted_runs(
        actor=BOT_ACTOR,
        targets=set(dead_targets),
        observations={
            target: {"database_revisions": list(revisions) if revisions is not None else None}
            for target, revisions in observed.items()
        },
    )
    found = []
    for request in interrupted:
        run = request.run
        found.append(
            InterruptedRun(
                request=request,
                step=run.current_step if run else None,
                last_revision_applied=run.last_revision_applied if run else None,
                database_revisions=observed[request.target],
            )
        )
    for target in context.config.targets.values():
        if target.is_fleet:
            continue  # its members' leftovers: commands/fleet/recovery.py
        if targets is not None and target.name not in targets:
            continue
        handle = dead_targets.get(target.name) or _open(context, target.name)
        if handle is not None:
            _clean(handle, store)
    return found


def _open(context: RunContext, name: str) -> TargetHandle | None:
    try:
        return context.target(name)
    except MigrateBotError as exc:
        log.warning("cannot check %s after a restart: %s", name, exc)
        return None


def _lock_free(handle: TargetHandle) -> bool:
    try:
        with run_lock(handle.database, label="start-up check"):
            return True
    except RunLockHeldError:
        return False
    except MigrateBotError as exc:
        log.warning("cannot check %s's run lock: %s", handle.name, exc)
        return False


def _database_revisions(handle: TargetHandle) -> tuple[str, ...] | None:
    try:
        return AlembicRunner.for_target(handle).current()
    except MigrateBotError:
        return None


def _clean(handle: TargetHandle, store: EventStore) -> None:
    """Leftovers of interrupted backups and rehearsals on ``handle``."""
    try:
        cleanup_backups(handle, store=store, actor=BOT_ACTOR)
    except MigrateBotError as exc:
        log.warning("cleaning up %s after a restart failed: %s", handle.name, exc)
