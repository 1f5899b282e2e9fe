"""Views in the local Slack workspace: modals (``views.open``, ``views.update``) and each
person's App Home tab (``views.publish``), and the trigger ids modals are opened with.

A part of ``Workspace`` (a mixin: it uses the workspace's lock, ids and change
log), apart so each file holds one thing.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.local_slack.records import SlackMethodError, view_of

TRIGGER_TTL_S = 3.0  # Slack's trigger ids expire after three seconds


class Views:
    """Modals and home tabs; ``Workspace`` sets the state this reads in its ``__init__``."""

    _lock: threading.Condition
    _clock: Callable[[], float]
    _triggers: dict[str, float]
    _trigger_users: dict[str, str]
    _used_triggers: set[str]
    views: dict[str, dict[str, Any]]
    view_users: dict[str, str | None]
    homes: dict[str, str]  # user -> the id of their published home view

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def _user(self, user: Any) -> str:
        raise NotImplementedError

    def _new_view_id(self) -> str:
        raise NotImplementedError

    def open_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        view = view_of(args)
        with self._lock:
            self._use_trigger(str(args.get("trigger_id") or ""))
            view_id = self._new_view_id()
            stored = {**view, "id": view_id, "hash": secrets.token_hex(8)}
            self.views[view_id] = stored
            self.view_users[view_id] = self._trigger_users.get(str(args.get("trigger_id")))
            self._emit("view_opened", self._view_change(view_id))
            return {"view": stored}

    def update_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        view = view_of(args)
        with self._lock:
            stored = self.views.get(str(args.get("view_id") or ""))
            if stored is None:
                raise SlackMethodError("not_found")
            if args.get("hash") and args["hash"] != stored["hash"]:
                raise SlackMethodError("hash_conflict")
            stored.clear()
            stored.update({**view, "id": args["view_id"], "hash": secrets.token_hex(8)})
            self._emit("view_updated", self._view_change(stored["id"]))
            return {"view": stored}

    def _view_change(self, view_id: str) -> dict[str, Any]:
        """A view event: the view, and the user it was opened for (``None``: unknown)."""
        return {"view": self.views[view_id], "user": self.view_users.get(view_id)}

    def publish_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``views.publish``: ``user_id``'s App Home tab, replaced as a whole."""
        view = view_of(args)
        if view.get("type") != "home":
            raise SlackMethodError("invalid_arguments")
        with self._lock:
            user = self._user(args.get("user_id"))
            view_id = self.homes.get(user) or self._new_view_id()
            stored = self.views.get(view_id)
            if stored is not None and args.get("hash") and args["hash"] != stored["hash"]:
                raise SlackMethodError("hash_conflict")
            published = {**view, "id": view_id, "hash": secrets.token_hex(8)}
            self.views[view_id] = published
            self.view_users[view_id] = user
            self.homes[user] = view_id
            self._emit("home_published", self._view_change(view_id))
            return {"view": published}

    def home(self, user: str) -> dict[str, Any] | None:
        """A copy of ``user``'s published home view, or ``None``."""
        with self._lock:
            view_id = self.homes.get(user)
            return copy.deepcopy(self.views[view_id]) if view_id else None

    def view(self, view_id: str) -> tuple[dict[str, Any], str | None] | None:
        """A copy of the view ``view_id`` and the user it was opened for, or ``None``."""
        with self._lock:
            stored = self.views.get(view_id)
            if stored is None:
                return None
            return copy.deepcopy(stored), self.view_users.get(view_id)

    def _use_trigger(self, trigger: str) -> None:
        if not trigger:
            raise SlackMethodError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise SlackMethodError("exchanged_trigger_id")
        issued = self._triggers.get(trigger)
        if issued is not None and self._clock() - issued > TRIGGER_TTL_S:
            raise SlackMethodError("expired_trigger_id")
        self._used_triggers.add(trigger)
