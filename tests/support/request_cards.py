"""The request message drawn as the bot draws it, for the view tests: from a request the
real service folded, checked against Slack's limits and for mention injection."""

from __future__ import annotations

import json

from bot.views import limits
from bot.views.request import request_message
from bot.views.request_card import RequestCard
from bot.views.run_picture import RunNews, run_picture
from commands.pipeline import RollbackOffer
from commands.requests import Request, RequestService


def card(
    service: RequestService,
    request: Request,
    news: RunNews | None = None,
    offers: tuple[RollbackOffer, ...] = (),
) -> RequestCard:
    policy = service.policy(request.target)
    return RequestCard(
        request=request,
        approvers=policy.approvers,
        checklist=policy.checklist,
        missing=service.tally(request).missing,
        approval_ttl_s=policy.ttl_seconds,
        now=service.now(),
        run=run_picture(request, news),
        ways_back=offers,
    )


def drawn(service: RequestService, request: Request, **extra: object) -> list[dict]:
    """The message's blocks; its fallback text starts with the request's id."""
    text, blocks = request_message(card(service, request, **extra))  # type: ignore[arg-type]
    assert text.startswith(request.id)
    assert limits.problems(blocks) == []
    assert "<!channel>" not in json.dumps(blocks)
    return blocks


def controls(blocks: list[dict]) -> dict[str, tuple[dict, str]]:
    """Every interactive element by action id, with the id of the block holding it."""
    return {
        e["action_id"]: (e, b["block_id"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    }
