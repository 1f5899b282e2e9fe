"""Bolt middleware, one ``process`` method each: what every request passes before a listener.

``global_middleware`` is the chain ``bot.app.build_app`` registers, in order:
the workspace guard first (a request from another workspace is refused
before anything else sees it), then the duplicate filter (a retry of a
request already taken is dropped).
"""

from __future__ import annotations

from slack_bolt.middleware import Middleware

from bot.middleware.duplicates import DuplicateFilter, SeenBefore
from bot.middleware.workspace_guard import WorkspaceGuard

__all__ = ["DuplicateFilter", "WorkspaceGuard", "global_middleware"]


def global_middleware(seen_before: SeenBefore | None = None) -> list[Middleware]:
    """A fresh chain for one app. The duplicate filter remembers the ids it saw in
    this process, or, given ``seen_before``, in the shared state every worker writes."""
    return [WorkspaceGuard(), DuplicateFilter(seen_before=seen_before)]
