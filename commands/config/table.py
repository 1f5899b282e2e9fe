"""Typed reads from one table of the targets file, with errors that name the key.

Each reader checks the type (and a pattern, a minimum, a duration's form) and
remembers the key, so ``reject_unknown`` can refuse a typo with a "did you
mean" once every known key was read. The settings modules (``config``,
``backup_settings``, ``check_settings``, ``schedule_settings``) all read
through it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from commands.errors import ConfigError
from commands.units import parse_duration

REQUIRED = object()  # the default of a key that must be given
HTTP_URL = re.compile(r"^https?://[^\s/]+(?:/\S*)?$")


class ConfigTable:
    """Typed reads from one TOML table that remember which keys were used."""

    def __init__(self, source: str, prefix: str, data: Mapping[str, Any], base: Path) -> None:
        self.source = source
        self.prefix = prefix
        self.data = data
        self.base = base
        self.used: set[str] = set()

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"{self.prefix}.{key}", problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            expected = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.error(key, f"must be a {expected}, not {type(value).__name__}")
        return value

    def string(self, key: str, default: Any = None, pattern: re.Pattern[str] | None = None) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and pattern is not None and not pattern.match(value):
            raise self.error(key, f"{value!r} is not valid (expected {pattern.pattern})")
        return value

    def integer(self, key: str, default: Any, minimum: int = 0) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        return int(value)

    def duration(self, key: str, default: str) -> float:
        text = self.get(key, str, default)
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        if seconds <= 0:
            raise self.error(key, "must be longer than zero")
        return seconds

    def strings(
        self, key: str, default: tuple[str, ...] = (), pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        values = self.get(key, list, list(default))
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{key}[{index}]", f"must be a string, not {type(value).__name__}")
            if pattern is not None and not pattern.match(value):
                raise self.error(f"{key}[{index}]", f"{value!r} is not valid")
        return tuple(values)

    def path(self, key: str, default: Any = None) -> Path | None:
        text = self.string(key, default)
        if text is None:
            return None
        return (self.base / Path(text).expanduser()).resolve()

    def reject_unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                hint = difflib.get_close_matches(key, sorted(self.used), n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.error(key, f"is not a known key{suffix}")
