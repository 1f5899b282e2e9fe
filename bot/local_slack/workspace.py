"""A small model of a Slack workspace: what the bot posted, where, and who is who.

It is the state behind the local Slack-compatible Web API server: channels
with messages and threads, ephemeral messages, modals, uploaded files, users
and user groups, and every call received. Each change is appended to a log
that subscribers wait on (``wait_for_changes``), so a page can show the
conversation live. Methods raise ``SlackMethodError`` with Slack's own error
codes, so the bot meets the answers it would meet in a real workspace.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

TRIGGER_TTL_S = 3.0  # Slack's trigger ids expire after three seconds
BOT_USER = "U0MIGRATEBOT"
BOT_ID = "B0MIGRATEBOT"
TEAM_ID = "T0LOCAL"


class SlackMethodError(Exception):
    """A Web API method answered ``ok: false`` with this Slack error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Message:
    """A message in a channel; a reply when ``thread_ts`` differs from ``ts``."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    user: str = BOT_USER
    thread_ts: str | None = None
    reply_count: int = 0
    edited: bool = False
    files: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None  # chat.postMessage's ``metadata``

    def as_json(self) -> dict[str, Any]:
        return {"type": "message", "bot_id": BOT_ID, **asdict(self)}


@dataclass
class Ephemeral:
    """A message only ``user`` sees, in ``channel``."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"type": "ephemeral", **asdict(self)}


@dataclass(frozen=True)
class Change:
    """One thing that changed, numbered: ``kind`` is e.g. ``message_posted``."""

    seq: int
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordedCall:
    """One request the server received (token never recorded), and its answer."""

    method: str
    args: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any]


class Workspace:
    """Thread-safe workspace state; ``clock`` is injectable for ts and trigger expiry."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, tuple[str, list[str]]] | None = None,
        channels: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Condition()
        self._closed = False
        self._clock = clock
        self.users: dict[str, str] = {BOT_USER: "migrate-bot", **(users or {})}
        self.usergroups: dict[str, tuple[str, list[str]]] = dict(usergroups or {})
        self.channels: dict[str, str] = dict(channels or {})
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.calls: list[RecordedCall] = []
        self.changes: list[Change] = []
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._triggers: dict[str, float] = {}
        self._trigger_users: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self.view_users: dict[str, str | None] = {}

    # --- recording and subscription ---------------------------------------

    def record(self, call: RecordedCall) -> None:
        with self._lock:
            self.calls.append(call)

    def calls_to(self, method: str | None = None) -> list[RecordedCall]:
        """Recorded calls to ``method`` (every call when ``None``), oldest first."""
        with self._lock:
            return [c for c in self.calls if method is None or c.method == method]

    def wait_for_changes(self, after_seq: int, timeout: float) -> list[Change]:
        """Changes numbered above ``after_seq``; waits up to ``timeout`` for the first
        (or until ``close``)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.changes) > after_seq or self._closed, timeout)
            return self.changes[after_seq:]

    def close(self) -> None:
        """Wake every long poll now, so a server that is stopping need not wait for them."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.changes.append(Change(len(self.changes) + 1, kind, copy.deepcopy(data)))
        self._lock.notify_all()

    # --- ids ----------------------------------------------------------------

    def _next_ts(self) -> str:
        now_us = int(self._clock() * 1_000_000)
        self._last_ts_us = max(self._last_ts_us + 1, now_us)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def new_trigger_id(self, user: str | None = None) -> str:
        """A trigger id as Slack puts in an interaction; valid for three seconds, once.

        A modal opened with it is shown to ``user`` (the one who clicked).
        """
        with self._lock:
            trigger = f"{next(self._ids)}.{secrets.token_hex(6)}"
            self._triggers[trigger] = self._clock()
            if user is not None:
                self._trigger_users[trigger] = user
            return trigger

    def dm_channel(self, user: str) -> str:
        """The id of the bot's direct-message conversation with ``user``."""
        return "D" + user[1:]

    # --- Web API methods ------------------------------------------------------

    def auth_test(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "url": "http://localhost/",
            "team": "local",
            "user": "migrate-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def post_message(
        self, args: Mapping[str, Any], files: list[str] | None = None
    ) -> dict[str, Any]:
        """``chat.postMessage``; ``files`` are ids of uploads shared with the message."""
        text, blocks = _content(args)
        with self._lock:
            channel = self._channel(args)
            thread_ts = args.get("thread_ts") or None
            parent = self._message(channel, thread_ts) if thread_ts else None
            message = Message(
                channel,
                self._next_ts(),
                text,
                blocks,
                thread_ts=thread_ts,
                files=list(files or []),
                metadata=args.get("metadata") or None,
            )
            self.messages.setdefault(channel, {})[message.ts] = message
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.reply_count += 1
                self._emit("message_updated", parent.as_json())
            self._emit("message_posted", message.as_json())
            return {"channel": channel, "ts": message.ts, "message": message.as_json()}

    def history(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``conversations.history``: the channel's top-level messages, newest first
        (their ``metadata`` only with ``include_all_metadata``, as Slack does)."""
        with self._lock:
            channel = self._channel(args)
            found = [
                m for m in self.messages.get(channel, {}).values() if m.thread_ts in (None, m.ts)
            ]
            return _page(found, args, newest_first=True)

    def replies(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``conversations.replies``: the message ``ts`` and its thread, oldest first."""
        with self._lock:
            channel = self._channel(args)
            parent = self._message(channel, str(args.get("ts") or ""))
            found = [
                m
                for m in self.messages[channel].values()
                if m is parent or (m.thread_ts == parent.ts and m.ts != parent.ts)
            ]
            return _page(found, args, newest_first=False)

    def update_message(self, args: Mapping[str, Any]) -> dict[str, Any]:
        text, blocks = _content(args)
        with self._lock:
            channel = self._channel(args)
            message = self._message(channel, str(args.get("ts") or ""))
            message.text, message.blocks, message.edited = text, blocks, True
            self._emit("message_updated", message.as_json())
            answer = {"channel": channel, "ts": message.ts, "text": text}
            return {**answer, "message": message.as_json()}

    def delete_message(self, args: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            channel = self._channel(args)
            message = self._message(channel, str(args.get("ts") or ""))
            del self.messages[channel][message.ts]
            self._emit("message_deleted", {"channel": channel, "ts": message.ts})
            return {"channel": channel, "ts": message.ts}

    def post_ephemeral(self, args: Mapping[str, Any]) -> dict[str, Any]:
        text, blocks = _content(args)
        with self._lock:
            channel = self._channel(args)
            user = self._user(args.get("user"))
            ephemeral = Ephemeral(
                channel, user, self._next_ts(), text, blocks, args.get("thread_ts") or None
            )
            self.ephemerals.append(ephemeral)
            self._emit("ephemeral_posted", ephemeral.as_json())
            return {"message_ts": ephemeral.ts}

    def respond(
        self, channel: str, user: str, message_ts: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What a POST to an interaction's ``response_url`` does.

        The original may be an ephemeral message (a button in one): replacing or
        deleting it then changes what its user sees, as in Slack.
        """
        original = body.get("delete_original") or body.get("replace_original")
        if original and message_ts and self._own_ephemeral(user, message_ts):
            return self._change_ephemeral(user, message_ts, body)
        if body.get("delete_original") and message_ts:
            return self.delete_message({"channel": channel, "ts": message_ts})
        if body.get("replace_original") and message_ts:
            return self.update_message({**body, "channel": channel, "ts": message_ts})
        if body.get("response_type") == "in_channel":
            return self.post_message({**body, "channel": channel})
        return self.post_ephemeral({**body, "channel": channel, "user": user})

    def _own_ephemeral(self, user: str, ts: str) -> Ephemeral | None:
        with self._lock:
            return next((e for e in self.ephemerals if e.user == user and e.ts == ts), None)

    def _change_ephemeral(self, user: str, ts: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            ephemeral = self._own_ephemeral(user, ts)
            assert ephemeral is not None
            if body.get("delete_original"):
                self.ephemerals.remove(ephemeral)
                self._emit("ephemeral_deleted", {"user": user, "ts": ts})
            else:
                ephemeral.text, ephemeral.blocks = _content(body)
                self._emit("ephemeral_updated", ephemeral.as_json())
            return {}

    def open_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        view = _view(args)
        with self._lock:
            self._use_trigger(str(args.get("trigger_id") or ""))
            view_id = f"V{next(self._ids):08d}"
            stored = {**view, "id": view_id, "hash": secrets.token_hex(8)}
            self.views[view_id] = stored
            self.view_users[view_id] = self._trigger_users.get(str(args.get("trigger_id")))
            self._emit("view_opened", self._view_change(view_id))
            return {"view": stored}

    def update_view(self, args: Mapping[str, Any]) -> dict[str, Any]:
        view = _view(args)
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

    def usergroups_list(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            groups = [
                {"id": gid, "handle": handle, "users": list(users)}
                for gid, (handle, users) in self.usergroups.items()
            ]
            return {"usergroups": groups}

    def usergroup_users(self, args: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            group = self.usergroups.get(str(args.get("usergroup") or ""))
            if group is None:
                raise SlackMethodError("no_such_subteam")
            return {"users": list(group[1])}

    def user_info(self, args: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._user(args.get("user"))
            name = self.users[user]
            profile = {"real_name": name, "display_name": name}
            return {
                "user": {"id": user, "name": name, "real_name": name, "profile": profile},
            }

    def open_conversation(self, args: Mapping[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").split(",")
        if len(users) != 1:
            raise SlackMethodError("not_implemented")
        with self._lock:
            channel = self.dm_channel(self._user(users[0]))
            self.channels.setdefault(channel, f"dm-{self.users[users[0]]}")
            return {"channel": {"id": channel, "is_im": True}}

    def start_upload(self, args: Mapping[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length") or "").isdigit():
            raise SlackMethodError("invalid_arguments")
        with self._lock:
            file_id = f"F{next(self._ids):08d}"
            self.files[file_id] = {"id": file_id, "name": args["filename"], "content": None}
            return {"file_id": file_id}

    def receive_upload(self, file_id: str, content: bytes) -> None:
        with self._lock:
            if file_id not in self.files:
                raise SlackMethodError("file_not_found")
            self.files[file_id]["content"] = content

    def complete_upload(self, args: Mapping[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            raise SlackMethodError("invalid_arguments")
        with self._lock:
            done = []
            for item in files:
                stored = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
                if stored is None or stored["content"] is None:
                    raise SlackMethodError("file_not_found")
                stored["title"] = item.get("title") or stored["name"]
                done.append({k: v for k, v in stored.items() if k != "content"})
            if args.get("channel_id"):
                comment = str(args.get("initial_comment") or "")
                self.post_message(
                    {
                        "channel": args["channel_id"],
                        "text": comment or done[0]["title"],
                        "thread_ts": args.get("thread_ts"),
                    },
                    files=[f["id"] for f in done],
                )
            return {"files": done}

    # --- reading, for a front that shows the workspace (the sandbox) ----------

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """A copy of the message ``ts`` in ``channel``, as Slack would send it, or ``None``."""
        with self._lock:
            found = self.messages.get(channel, {}).get(ts)
            return copy.deepcopy(found.as_json()) if found is not None else None

    def ephemeral(self, user: str, ts: str) -> dict[str, Any] | None:
        """A copy of the ephemeral message ``ts`` shown to ``user``, or ``None``."""
        with self._lock:
            found = [e for e in self.ephemerals if e.user == user and e.ts == ts]
            return copy.deepcopy(found[0].as_json()) if found else None

    def view(self, view_id: str) -> tuple[dict[str, Any], str | None] | None:
        """A copy of the view ``view_id`` and the user it was opened for, or ``None``."""
        with self._lock:
            stored = self.views.get(view_id)
            if stored is None:
                return None
            return copy.deepcopy(stored), self.view_users.get(view_id)

    def file(self, file_id: str) -> dict[str, Any] | None:
        """A copy of an uploaded file's record (``name``, ``title``, ``content``), or ``None``."""
        with self._lock:
            stored = self.files.get(file_id)
            return copy.deepcopy(stored) if stored is not None else None

    # --- helpers ------------------------------------------------------------

    def _channel(self, args: Mapping[str, Any]) -> str:
        channel = str(args.get("channel") or args.get("channel_id") or "")
        if channel in self.users:
            channel = self.dm_channel(channel)  # posting to a user id lands in their DM
        if not channel or channel[0] not in "CDG" or not channel[1:].isalnum():
            raise SlackMethodError("channel_not_found")
        self.channels.setdefault(channel, channel.lower())
        return channel

    def _message(self, channel: str, ts: str | None) -> Message:
        message = self.messages.get(channel, {}).get(ts or "")
        if message is None:
            raise SlackMethodError("message_not_found")
        return message

    def _user(self, user: Any) -> str:
        if not isinstance(user, str) or user not in self.users:
            raise SlackMethodError("user_not_found")
        return user

    def _use_trigger(self, trigger: str) -> None:
        if not trigger:
            raise SlackMethodError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise SlackMethodError("exchanged_trigger_id")
        issued = self._triggers.get(trigger)
        if issued is not None and self._clock() - issued > TRIGGER_TTL_S:
            raise SlackMethodError("expired_trigger_id")
        self._used_triggers.add(trigger)


def _content(args: Mapping[str, Any]) -> tuple[str, list[Any]]:
    text = args.get("text")
    blocks = args.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackMethodError("invalid_blocks_format")
    if not text and not blocks:
        raise SlackMethodError("no_text")
    return str(text or ""), copy.deepcopy(blocks or [])


def _view(args: Mapping[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackMethodError("invalid_arguments")
    return copy.deepcopy(view)


def _page(
    messages: list[Message], args: Mapping[str, Any], *, newest_first: bool
) -> dict[str, Any]:
    """One page (``limit``, default 100) of ``messages`` as the conversations methods answer."""
    limit = int(args.get("limit") or 100)
    ordered = sorted(messages, key=lambda m: float(m.ts), reverse=newest_first)
    with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    page = []
    for message in ordered[:limit]:
        shown = message.as_json()
        if not with_metadata or shown["metadata"] is None:
            del shown["metadata"]
        page.append(shown)
    return {"messages": page, "has_more": len(ordered) > limit}
