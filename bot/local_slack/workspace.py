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
from collections.abc import Callable, Collection, Mapping
from typing import Any

from bot.local_slack.records import (
    BOT_ID,
    BOT_USER,
    Change,
    Ephemeral,
    Message,
    RecordedCall,
    SlackMethodError,
    content,
    page,
)
from bot.local_slack.views import Views

__all__ = [
    "BOT_ID",
    "BOT_USER",
    "PERMALINK_BASE",
    "TEAM_ID",
    "Change",
    "Ephemeral",
    "Message",
    "RecordedCall",
    "SlackMethodError",
    "Workspace",
]

TEAM_ID = "T0LOCAL"
PERMALINK_BASE = "https://local.slack.test/archives"  # the sandbox page opens these itself


class Workspace(Views):
    """Thread-safe workspace state; ``clock`` is injectable for ts and trigger expiry."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, tuple[str, list[str]]] | None = None,
        channels: Mapping[str, str] | None = None,
        bot_channels: Collection[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Condition()
        self._closed = False
        self._clock = clock
        self.users: dict[str, str] = {BOT_USER: "migrate-bot", **(users or {})}
        self.usergroups: dict[str, tuple[str, list[str]]] = dict(usergroups or {})
        self.channels: dict[str, str] = dict(channels or {})
        # the channels the bot is a member of; None: every channel, each made on first use
        # (the sandbox's and most tests' world); a set: conversations.info knows only
        # ``channels`` and tells membership, as a real workspace does
        self.bot_channels = None if bot_channels is None else set(bot_channels)
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
        self.homes: dict[str, str] = {}

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

    def _new_view_id(self) -> str:
        return f"V{next(self._ids):08d}"

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
        text, blocks = content(args)
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

    def get_permalink(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``chat.getPermalink``: a link to the message, as the sandbox page reads it."""
        with self._lock:
            channel = self._channel(args)
            message = self._message(channel, str(args.get("message_ts") or ""))
            permalink = f"{PERMALINK_BASE}/{channel}/p{message.ts.replace('.', '')}"
            return {"channel": channel, "permalink": permalink}

    def conversation_info(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``conversations.info``: the channel's id, name and whether the bot is in it."""
        with self._lock:
            asked = str(args.get("channel") or "")
            if self.bot_channels is not None and asked not in self.channels:
                raise SlackMethodError("channel_not_found")
            channel = self._channel(args)
            member = self.bot_channels is None or channel in self.bot_channels
            return {
                "channel": {
                    "id": channel,
                    "name": self.channels[channel],
                    "is_im": channel.startswith("D"),
                    "is_member": member,
                    "is_archived": False,
                }
            }

    def history(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """``conversations.history``: the channel's top-level messages, newest first
        (their ``metadata`` only with ``include_all_metadata``, as Slack does)."""
        with self._lock:
            channel = self._channel(args)
            found = [
                m for m in self.messages.get(channel, {}).values() if m.thread_ts in (None, m.ts)
            ]
            return page(found, args, newest_first=True)

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
            return page(found, args, newest_first=False)

    def update_message(self, args: Mapping[str, Any]) -> dict[str, Any]:
        text, blocks = content(args)
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
        text, blocks = content(args)
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
                ephemeral.text, ephemeral.blocks = content(body)
                self._emit("ephemeral_updated", ephemeral.as_json())
            return {}

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
