"""Bolt middleware, one ``process`` method each: what every request passes before a listener.

``global_middleware`` is the chain ``bot.app.build_app`` registers, in order:
the workspace guard first (a request from another workspace is refused
before anything else sees it), then the duplicate filter (a retry of a
request already taken is dropped), then, given a directory, the name
recorder (who is who, for the terminal).
"""

from __future__ import annotations

from slack_bolt.middleware import Middleware

from bot.middleware.duplicates import DuplicateFilter, SeenBefore
from bot.middleware.names import NameRecorder
from bot.middleware.workspace_guard import WorkspaceGuard
from commands.state.people import Directory

__all__ = ["DuplicateFilter", "NameRecorder", "WorkspaceGuard", "global_middleware"]


def global_middleware(
    *, seen_before: SeenBefore | None = None, people: Directory | None = None
) -> list[Middleware]:
    """A fresh chain for one app. The duplicate filter remembers the ids it saw in
    this process, or, given ``seen_before``, in the shared state every worker writes."""
    chain: list[Middleware] = [WorkspaceGuard(), DuplicateFilter(seen_before=seen_before)]
    if people is not None:
        chain.append(NameRecorder(people))
    return chain
