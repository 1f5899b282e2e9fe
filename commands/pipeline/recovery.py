"""What the bot does first after a crash: find the runs that died with it.

A request still ``running`` whose database run lock is free has no process
behind it any more: it becomes ``interrupted``, with the step it was in and
the revision the database actually holds, and the operators are told. A
fleet's run is judged by its owner (this host's dead process) or by its
running members' run locks; each member that was running is
``member_interrupted`` with the step it was in and the revision its database
holds, members that succeeded stay succeeded, those whose turn had not come
read as not started. Nothing is ever resumed: a human decides, and a retry
needs a new approval. Leftovers of an interrupted backup (partial files, open
multipart uploads, scratch databases) are cleaned up and recorded.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from audit.store import EventStore
from commands.backup.cleanup import cleanup_backups
from commands.config.fleet import member_target_name
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.pipeline.context import BOT_ACTOR, RunContext
from commands.pipeline.run_lock import RunLockHeldError, run_lock
from commands.requests import Request
from commands.state.vocabulary import EventKind, MemberState, RequestState
from commands.targets import TargetHandle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InterruptedRun:
    """A run found dead at start-up, and where its database was left (a fleet's: each
    member's, in its request)."""

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
    running = [
        request
        for request in context.requests.requests(states=[RequestState.RUNNING], limit=1000)
        if targets is None or request.target in targets
    ]
    fleets = [r for r in running if r.is_fleet]  # judged by their owner and members' locks
    found = _recover_databases(context, [r for r in running if r not in fleets], targets)
    for request in fleets:
        fleet = _recover_fleet(context, request)
        found += [InterruptedRun(fleet, None, None, None)] if fleet is not None else []
    return found


def _recover_databases(
    context: RunContext, running: list[Request], targets: Collection[str] | None
) -> list[InterruptedRun]:
    """Single targets: a run is dead when its database's run lock is free."""
    requests, store = context.requests, context.store
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
            continue  # its members' leftovers: cleaned with its run (_recover_fleet)
        if targets is not None and target.name not in targets:
            continue
        handle = dead_targets.get(target.name) or _open(context, target.name)
        if handle is not None:
            _clean(handle, store)
    return found


def _recover_fleet(context: RunContext, request: Request) -> Request | None:
    """A fleet's run, marked interrupted member by member if nobody runs it any more."""
    handles = {
        member.name: _open(context, member_target_name(request.target, member.name))
        for member in request.members.values()
        if member.state is MemberState.RUNNING
    }
    if not _fleet_dead(context, request, handles):
        return None
    members = {name: _observe(name, handle, request) for name, handle in handles.items()}
    interrupted = context.requests.interrupt_fleet(
        request.id,
        actor=BOT_ACTOR,
        members=members,
        data={"reason": "the bot stopped while this fleet ran", "counts": _counts(request)},
    )
    for handle in handles.values():
        if handle is not None:
            _clean(handle, context.store)
    return interrupted


def _fleet_dead(
    context: RunContext, request: Request, handles: dict[str, TargetHandle | None]
) -> bool:
    """Nobody runs it any more: it ran in this host's dead process (or this one, before a
    restart), or elsewhere and none of its running members' run locks is held. A fleet of
    another host with no member running (between waves, or before a member takes its
    lock) shows nothing to judge by: it is left alone, never called dead."""
    owner = _owner(context, request)
    if owner.get("host") == socket.gethostname():
        pid = int(owner.get("pid") or 0)
        return pid == os.getpid() or not _alive(pid)
    if not handles:
        return False
    return all(handle is not None and _lock_free(handle) for handle in handles.values())


def _owner(context: RunContext, request: Request) -> dict[str, Any]:
    events = context.store.events(request_id=request.id, kinds=[EventKind.RUN_STARTED])
    return dict(events[-1].data.get("owner") or {}) if events else {}


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _observe(name: str, handle: TargetHandle | None, request: Request) -> dict[str, Any]:
    """What a member that was running left: its step, last revision, what its database holds."""
    member = request.members[name]
    revisions = _database_revisions(handle) if handle is not None else None
    return {
        "reason": "the bot stopped while this member ran",
        "step": member.step,
        "last_revision_applied": member.revisions_done[-1] if member.revisions_done else None,
        "database_revisions": list(revisions) if revisions is not None else None,
    }


def _counts(request: Request) -> dict[str, int]:
    counts: dict[str, int] = {}
    for member in request.members.values():
        state = MemberState.INTERRUPTED if member.state is MemberState.RUNNING else member.state
        state = MemberState.NOT_STARTED if state is MemberState.PENDING else state
        counts[state.value] = counts.get(state.value, 0) + 1
    return counts


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
    except MigrateBotError as exc:
        log.warning("cannot read %s's revision after a restart: %s", handle.name, exc)
        return None


def _clean(handle: TargetHandle, store: EventStore) -> None:
    """Leftovers of interrupted backups and rehearsals on ``handle``."""
    try:
        cleanup_backups(handle, store=store, actor=BOT_ACTOR)
    except MigrateBotError as exc:
        log.warning("cleaning up %s after a restart failed: %s", handle.name, exc)
