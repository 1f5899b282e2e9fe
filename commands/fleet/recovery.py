"""What the bot does first after a crash, for fleets: explain every member of a dead run.

A fleet request still ``running`` whose process is gone (it ran here, or none
of its members' run locks is held) is marked ``interrupted``: each member that
was running is ``member_interrupted`` with the step it was in and the revision
its database actually holds; members that succeeded stay succeeded; those
whose turn had not come read as not started. Leftovers of the backups that
were being taken are cleaned up. Nothing resumes: a retry is a new request.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Collection
from typing import Any

from commands.backup.cleanup import cleanup_backups
from commands.config.fleet import member_target_name
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.pipeline import RunContext
from commands.pipeline.context import BOT_ACTOR
from commands.pipeline.run_lock import RunLockHeldError, run_lock
from commands.requests import Request
from commands.state.vocabulary import EventKind, MemberState, RequestState
from commands.targets import TargetHandle

log = logging.getLogger(__name__)


def recover_fleets(context: RunContext, targets: Collection[str] | None = None) -> list[Request]:
    """Mark dead fleet runs interrupted, member by member; the requests, for announcing.
    ``targets``: only these fleets (a worker looks only at the targets it reaches)."""
    found = []
    running = context.requests.requests(states=[RequestState.RUNNING], limit=1000)
    for request in running:
        if not request.is_fleet or (targets is not None and request.target not in targets):
            continue
        handles = _running_members(context, request)
        if not _dead(context, request, handles):
            continue
        members = {name: _observe(name, handle, request) for name, handle in handles.items()}
        counts = _counts(request)
        found.append(
            context.requests.interrupt_fleet(
                request.id,
                actor=BOT_ACTOR,
                members=members,
                data={"reason": "the bot stopped while this fleet ran", "counts": counts},
            )
        )
        for handle in handles.values():
            if handle is not None:
                _clean(context, handle)
    return found


def _running_members(context: RunContext, request: Request) -> dict[str, TargetHandle | None]:
    handles: dict[str, TargetHandle | None] = {}
    for member in request.members.values():
        if member.state is MemberState.RUNNING:
            try:
                handles[member.name] = context.target(
                    member_target_name(request.target, member.name)
                )
            except MigrateBotError as exc:
                log.warning(
                    "cannot check %s.%s after a restart: %s", request.target, member.name, exc
                )
                handles[member.name] = None
    return handles


def _dead(context: RunContext, request: Request, handles: dict[str, TargetHandle | None]) -> bool:
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


def _lock_free(handle: TargetHandle) -> bool:
    try:
        with run_lock(handle.database, label="start-up check"):
            return True
    except RunLockHeldError:
        return False
    except MigrateBotError as exc:
        log.warning("cannot check %s's run lock: %s", handle.name, exc)
        return False


def _observe(name: str, handle: TargetHandle | None, request: Request) -> dict[str, Any]:
    member = request.members[name]
    revisions = None
    if handle is not None:
        try:
            revisions = list(AlembicRunner.for_target(handle).current())
        except MigrateBotError as exc:
            log.warning("cannot read %s's revision after a restart: %s", handle.name, exc)
    return {
        "reason": "the bot stopped while this member ran",
        "step": member.step,
        "last_revision_applied": member.revisions_done[-1] if member.revisions_done else None,
        "database_revisions": revisions,
    }


def _counts(request: Request) -> dict[str, int]:
    counts: dict[str, int] = {}
    for member in request.members.values():
        state = MemberState.INTERRUPTED if member.state is MemberState.RUNNING else member.state
        state = MemberState.NOT_STARTED if state is MemberState.PENDING else state
        counts[state.value] = counts.get(state.value, 0) + 1
    return counts


def _clean(context: RunContext, handle: TargetHandle) -> None:
    try:
        cleanup_backups(handle, store=context.store, actor=BOT_ACTOR)
    except MigrateBotError as exc:
        log.warning("cleaning up %s after a restart failed: %s", handle.name, exc)
