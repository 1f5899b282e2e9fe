"""Who is in a Slack user group: the approval policy's ``GroupLookup``, backed by the Web API.

A target lists groups as written by people (``@db-admins``) or by id
(``S0123``). A handle is turned into its id with ``usergroups.list``; the
members come from ``usergroups.users.list``. Both are cached for ``ttl``
seconds: an approve click should not wait on Slack, and a member removed
from a group stops counting within the TTL. When Slack cannot say, the
click is refused with a sentence (never counted as "not a member").
"""

from __future__ import annotations

import threading
import time
import urllib.error
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from commands.config.targets_file import USER_GROUP
from commands.errors import ExitCode, MigrateBotError

_T = TypeVar("_T")

TTL_S = 300.0
MAX_EXPANDED = 50  # a direct message to more people than this is a broadcast, not a request


class UserGroupUnavailableError(MigrateBotError):
    """Slack could not tell who is in a user group; nothing was decided."""

    exit_code = ExitCode.UNAVAILABLE


class SlackUserGroups:
    """Callable as a ``GroupLookup``: ``groups("@db-admins")`` → the members' user ids."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._handles: tuple[float, dict[str, str]] | None = None

    def __call__(self, group: str) -> frozenset[str]:
        """Members of ``group`` (``@handle`` or ``S…`` id); raises ``UserGroupUnavailableError``."""
        group_id = self.group_id(group)
        if group_id is None:
            return frozenset()
        cached = self._fresh(self._members.get(group_id))
        if cached is not None:
            return cached
        answer = self._ask(group, lambda: self._client.usergroups_users_list(usergroup=group_id))
        members = frozenset(str(u) for u in answer.get("users") or ())
        with self._lock:
            self._members[group_id] = (self._clock(), members)
        return members

    def group_id(self, group: str) -> str | None:
        """The ``S…`` id of ``group``; ``None`` for a handle no group has."""
        if not group.startswith("@"):
            return group
        handles = self._fresh(self._handles)
        if handles is None:
            answer = self._ask(group, lambda: self._client.usergroups_list(include_users=False))
            handles = {
                str(g.get("handle")): str(g.get("id")) for g in answer.get("usergroups") or ()
            }
            with self._lock:
                self._handles = (self._clock(), handles)
        return handles.get(group.removeprefix("@"))

    def expand(self, people: Iterable[str]) -> list[str]:
        """User ids of ``people`` (user ids and groups), each once, in order, at most
        ``MAX_EXPANDED``. A group Slack cannot read is left out rather than failing."""
        found: dict[str, None] = {}
        for entry in people:
            if USER_GROUP.match(entry):
                try:
                    found.update(dict.fromkeys(sorted(self(entry))))
                except UserGroupUnavailableError:
                    continue
            else:
                found[entry] = None
        return list(found)[:MAX_EXPANDED]

    def _fresh(self, entry: tuple[float, _T] | None) -> _T | None:
        if entry is None or self._clock() - entry[0] > self._ttl:
            return None
        return entry[1]

    @staticmethod
    def _ask(group: str, call: Callable[[], Any]) -> dict[str, Any]:
        try:
            return dict(call().data)
        except SlackApiError as exc:
            problem = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            problem = type(exc).__name__
        raise UserGroupUnavailableError(
            f"Slack could not list the members of {group} ({problem});"
            " nothing was decided, try again in a moment"
        )
