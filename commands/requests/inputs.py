"""Checks on what people type: ids, goals, reasons, origins. Bad input records nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from commands.requests.errors import RequestInputError
from commands.state.vocabulary import RequestKind

E = TypeVar("E", bound=StrEnum)

REQUEST_ID = re.compile(r"^[Mm]-?(\d{1,9})$")
GOAL = re.compile(r"^[A-Za-z0-9_.:@+/-]{1,200}$")
MAX_REASON = 500
MAX_SUMMARY = 2000
MAX_ORIGIN_ENTRIES = 12
MAX_ORIGIN_VALUE = 200


def request_id_of(number: int) -> str:
    return f"M-{number}"


def parse_request_id(text: str) -> str:
    """``M-12`` from ``M-12``, ``m-12`` or ``M12``; raises ``RequestInputError``."""
    match = REQUEST_ID.match(text.strip())
    if not match:
        raise RequestInputError(f"{text.strip()!r} is not a request id: they look like M-12.")
    return request_id_of(int(match.group(1)))


def clean_text(text: str, *, what: str, limit: int = MAX_REASON, required: bool = False) -> str:
    """``text`` stripped; raises ``RequestInputError`` if too long, or empty when required."""
    if not isinstance(text, str):
        raise RequestInputError(f"the {what} must be text")
    cleaned = text.strip()
    if required and not cleaned:
        raise RequestInputError(f"please give a {what}")
    if len(cleaned) > limit:
        raise RequestInputError(f"the {what} is {len(cleaned)} characters long; at most {limit}")
    return cleaned


def clean_actor(actor: str) -> str:
    cleaned = clean_text(actor, what="user", limit=100, required=True)
    if any(c.isspace() for c in cleaned):
        raise RequestInputError(f"{cleaned!r} is not a user id")
    return cleaned


def clean_goal(kind: RequestKind, goal: str | None) -> str:
    """Where the request goes: ``head`` or a revision (upgrade), a revision, ``base`` or
    ``-N`` (downgrade), a backup id (restore)."""
    if goal is None or not goal.strip():
        if kind is RequestKind.UPGRADE:
            return "head"
        what = "revision (or -N)" if kind is RequestKind.DOWNGRADE else "backup id"
        raise RequestInputError(f"a {kind.value} needs a {what}")
    cleaned = goal.strip()
    if not GOAL.match(cleaned):
        raise RequestInputError(f"{cleaned!r} is not a revision or backup id")
    return cleaned


def clean_origin(origin: Mapping[str, Any] | None) -> dict[str, str]:
    """Where a request came from (a Slack channel and message ts…): short strings only."""
    origin = dict(origin or {})
    if len(origin) > MAX_ORIGIN_ENTRIES:
        raise RequestInputError(f"an origin has at most {MAX_ORIGIN_ENTRIES} entries")
    for key, value in origin.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise RequestInputError("an origin maps text to text")
        if len(key) > MAX_ORIGIN_VALUE or len(value) > MAX_ORIGIN_VALUE:
            raise RequestInputError(f"origin {key[:40]!r} is too long")
    return origin


def one_of(choices: type[E], value: str, *, what: str) -> E:
    """``value`` as a member of ``choices``; raises ``RequestInputError`` listing them."""
    try:
        return choices(value)
    except ValueError:
        names = ", ".join(choices)
        raise RequestInputError(f"{value!r} is not a {what} ({names})") from None
