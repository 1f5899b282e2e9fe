"""A target's maintenance windows, reminders and run hooks, read from its config.

The keys live in ``[targets.NAME]`` (``windows``, ``allow_outside_windows``,
``reminders``, ``before_run``, ``after_run``, ``hook_timeout``); this module
validates them so ``commands.config.targets_file`` stays one table of keys. A hook is an
argument list (``["deployctl", "freeze"]``) or an ``http(s)://`` webhook URL,
never a shell string: a string that is not a URL is refused with the form to use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from commands.config.table import HTTP_URL, ConfigTable
from commands.config.windows import Window, parse_window
from commands.units import parse_duration

DEFAULT_REMINDERS = ("24h", "1h")
MAX_HOOKS = 10


@dataclass(frozen=True)
class Hook:
    """One ``before_run``/``after_run`` hook: a command's arguments, or a webhook URL."""

    argv: tuple[str, ...] = ()
    url: str | None = None

    @property
    def display(self) -> str:
        """How the hook is named in Slack and the audit log: no query string, no password."""
        if self.url is None:
            return " ".join(self.argv)
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


def parse_schedule_keys(table: ConfigTable) -> dict[str, Any]:
    """The schedule keys of one target, validated; raises ``ConfigError`` naming the key."""
    return {
        "windows": _windows(table),
        "allow_outside_windows": table.get("allow_outside_windows", bool, False),
        "reminders": _reminders(table),
        "before_run": _hooks(table, "before_run"),
        "after_run": _hooks(table, "after_run"),
        "hook_timeout": table.duration("hook_timeout", "30s"),
    }


def _windows(table: ConfigTable) -> tuple[Window, ...]:
    windows = []
    for index, text in enumerate(table.strings("windows")):
        try:
            windows.append(parse_window(text))
        except ValueError as exc:
            raise table.error(f"windows[{index}]", str(exc)) from None
    return tuple(windows)


def _reminders(table: ConfigTable) -> tuple[float, ...]:
    """Offsets before a window's start, longest first, each told once."""
    offsets = set()
    for index, text in enumerate(table.strings("reminders", DEFAULT_REMINDERS)):
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise table.error(f"reminders[{index}]", str(exc)) from None
        if seconds <= 0:
            raise table.error(f"reminders[{index}]", "must be longer than zero")
        offsets.add(seconds)
    return tuple(sorted(offsets, reverse=True))


def _hooks(table: ConfigTable, key: str) -> tuple[Hook, ...]:
    entries = table.get(key, list, [])
    if len(entries) > MAX_HOOKS:
        raise table.error(key, f"lists {len(entries)} hooks; at most {MAX_HOOKS}")
    return tuple(_hook(table, f"{key}[{index}]", entry) for index, entry in enumerate(entries))


def _hook(table: ConfigTable, key: str, entry: Any) -> Hook:
    form = (
        'each hook is an argument list like ["deployctl", "freeze", "--reason", "migration"]'
        ' or a webhook URL like "https://deploys.example.com/hooks/freeze"'
    )
    if isinstance(entry, str):
        if HTTP_URL.match(entry):
            return Hook(url=entry)
        raise table.error(key, f"{entry!r} is neither a URL nor an argument list: {form}")
    if not isinstance(entry, list) or not entry:
        raise table.error(key, f"must not be empty: {form}")
    for position, word in enumerate(entry):
        if not isinstance(word, str) or not word:
            raise table.error(f"{key}[{position}]", f"must be a non-empty string: {form}")
    return Hook(argv=tuple(entry))
