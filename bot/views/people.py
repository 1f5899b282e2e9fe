"""People and groups as Slack shows them: mentions for ids, plain text for anything else."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.views.blocks import code, escape

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def mention(actor: str) -> str:
    """``<@U…>`` for a Slack user id; anything else (``cli:root``, ``migrate-bot``) as code."""
    return f"<@{actor}>" if USER_ID.match(actor) else code(actor)


def approver(entry: str) -> str:
    """An approver as configured: a user id or group id as a mention, a handle as written."""
    if USER_ID.match(entry):
        return f"<@{entry}>"
    if GROUP_ID.match(entry):
        return f"<!subteam^{entry}>"
    return escape(entry)


def people(entries: Iterable[str], *, as_approvers: bool = False) -> str:
    """``a, b or c`` style list (", " joined) of mentions."""
    shown = [approver(e) if as_approvers else mention(e) for e in entries]
    return ", ".join(shown) or "nobody"
