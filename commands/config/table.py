"""Typed reads from one table of the targets file, with errors that name the key.

Each reader checks the type (and a pattern, a minimum, a duration's form) and
remembers the key, so ``reject_unknown`` can refuse a typo with a "did you
mean" once every known key was read. A wrong value is reported to the file's
list of problems and its default read instead, so one pass finds every wrong
key of the file (``parse_config`` raises them together). The settings modules (``config``,
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
# How an error names what a key should hold: "must be an integer, not a string".
TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}
# Keys people write for a secret the file never holds, and what to write instead.
SECRET_KEYS = {
    "database_url": "database_url_env",
    "url": "database_url_env",
    "replica_url": "replica_url_env",
    "members": "members_env",
}
SECRET_EXAMPLES = {
    "replica_url_env": "PROD_REPLICA_URL",
    "members_env": "TENANT_DATABASE_URLS",
}


class ConfigTable:
    """Typed reads from one TOML table that remember which keys were used."""

    def __init__(
        self,
        source: str,
        prefix: str,
        data: Mapping[str, Any],
        base: Path,
        problems: list[ConfigError] | None = None,
    ) -> None:
        self.source = source
        self.prefix = prefix
        self.data = data
        self.base = base
        self.used: set[str] = set()
        self.problems: list[ConfigError] = [] if problems is None else problems

    def child(self, key: str, data: Mapping[str, Any]) -> ConfigTable:
        """The table under ``key`` (``[targets.NAME.checks]``), reporting to the same list."""
        prefix = f"{self.prefix}.{key}" if self.prefix else key
        return ConfigTable(self.source, prefix, data, self.base, self.problems)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"{self.prefix}.{key}" if self.prefix else key, problem)

    def report(self, key: str, problem: str) -> None:
        """A wrong value: noted, and reading goes on (the file is refused at the end)."""
        self.problems.append(self.error(key, problem))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            expected = " or ".join(type_name(k) for k in kinds)
            problem = f"must be {expected}, not {type_name(type(value))}"
            if default is REQUIRED:
                raise self.error(key, problem)
            self.report(key, problem)
            return default
        return value

    def string(self, key: str, default: Any = None, pattern: re.Pattern[str] | None = None) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and pattern is not None and not pattern.match(value):
            self.report(key, f"{value!r} is not valid (expected {pattern.pattern})")
            return default
        return value

    def integer(self, key: str, default: Any, minimum: int = 0) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            self.report(key, f"must be at least {minimum}, not {value}")
            return int(default)
        return int(value)

    def duration(self, key: str, default: str) -> float:
        text = self.get(key, str, default)
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            self.report(key, str(exc))
            return _seconds_or_zero(default)
        if seconds <= 0:
            self.report(key, "must be longer than zero")
            return _seconds_or_zero(default)
        return seconds

    def strings(
        self, key: str, default: tuple[str, ...] = (), pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        values = self.get(key, list, list(default))
        wrong = False
        for index, value in enumerate(values):
            if not isinstance(value, str):
                self.report(f"{key}[{index}]", f"must be a string, not {type_name(type(value))}")
                wrong = True
            elif pattern is not None and not pattern.match(value):
                self.report(f"{key}[{index}]", f"{value!r} is not valid")
                wrong = True
        return tuple(default) if wrong else tuple(values)

    def path(self, key: str, default: Any = None) -> Path | None:
        text = self.string(key, default)
        if text is None:
            return None
        return (self.base / Path(text).expanduser()).resolve()

    def refuse_secret_keys(self) -> None:
        """A URL written where only the name of its environment variable may go is
        refused before anything else, without being quoted back (it may hold a password)."""
        for key in self.data:
            if key in SECRET_KEYS:
                example = SECRET_EXAMPLES.get(SECRET_KEYS[key], "PROD_DATABASE_URL")
                raise self.error(
                    key,
                    "URLs never go in the file: put the URL in an environment variable and"
                    f" name that variable here with {SECRET_KEYS[key]}"
                    f' (e.g. {SECRET_KEYS[key]} = "{example}")',
                )

    def reject_unknown(self) -> None:
        """Report every key no reader asked for, with the known key it resembles."""
        for key in self.data:
            if key not in self.used:
                hint = difflib.get_close_matches(key, sorted(self.used), n=1)
                suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.report(key, f"is not a known key{suffix}")


def _seconds_or_zero(default: str) -> float:
    """What a wrong duration reads as meanwhile (the file is refused anyway)."""
    try:
        return parse_duration(default)
    except ValueError:
        return 0.0


def type_name(kind: type) -> str:
    """How an error names a TOML type: ``an integer``, ``a table``."""
    return TYPE_NAMES.get(kind, f"a {kind.__name__}")
