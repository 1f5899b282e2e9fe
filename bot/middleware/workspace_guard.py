"""Bolt middleware: the bot serves the one Slack workspace its token belongs to.

A signing secret is per app, not per workspace: if the app is ever installed
in a second workspace, or a Slack Connect partner's user reaches one of its
messages, Slack signs their requests with the same secret. Their ``/migrate``
and clicks must not touch our targets, so a request whose team id (anywhere
the payload gives one) is not the token's own (``auth.test``, which Bolt calls
at start) is refused before any listener: nothing is done or recorded, the
log says so, and a slash command gets a one-line answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

log = logging.getLogger(__name__)

REFUSAL = "This bot serves its own Slack workspace only: nothing was done."


class WorkspaceGuard(Middleware):
    """First in ``global_middleware``: it runs after Bolt's own authorization (``auth.test``)."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        authorized = req.context.authorize_result
        own = authorized.team_id if authorized is not None else None
        claimed = claimed_teams(req.body, req.context.team_id)
        if own and claimed == {own}:
            return next()
        log.warning(
            "refused a request from workspace %s: this bot serves %s",
            ", ".join(sorted(t[:20] for t in claimed)) or "(none given)",
            own or "(unknown)",
        )
        if req.body.get("command"):
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": REFUSAL})
        return BoltResponse(status=200, body="")


def claimed_teams(body: Mapping[str, Any], context_team: str | None) -> set[str]:
    """Every workspace id the payload names: Bolt's pick, the team's, the user's."""
    team = body.get("team")
    user = body.get("user")
    found = {
        context_team,
        body.get("team_id"),
        team.get("id") if isinstance(team, Mapping) else None,
        user.get("team_id") if isinstance(user, Mapping) else None,
    }
    return {str(t) for t in found if t}
