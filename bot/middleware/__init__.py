"""Bolt middleware, one ``process`` method each: what every request passes before a listener.

``global_middleware`` is the chain ``bot.app.build_app`` registers, in order:
the workspace guard first (a request from another workspace is refused
before anything else sees it), then the duplicate filter (a retry of a
request already taken is dropped), then, given a directory, the name
recorder (who is who, for the terminal).
"""

from __future__ import annotations

from slack_bolt.middleware import Middleware

from bot.middleware.duplicates import DuplicateFilter
from bot.middleware.names import NameRecorder
from bot.middleware.workspace_guard import WorkspaceGuard
from commands.state.people import PeopleDirectory

__all__ = ["DuplicateFilter", "NameRecorder", "WorkspaceGuard", "global_middleware"]


def global_middleware(people: PeopleDirectory | None = None) -> list[Middleware]:
    """A fresh chain for one app (the duplicate filter remembers the ids it saw)."""
    chain: list[Middleware] = [WorkspaceGuard(), DuplicateFilter()]
    if people is not None:
        chain.append(NameRecorder(people))
    return chain
