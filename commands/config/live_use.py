"""A target's keys for the application's live use of the schema: the ``live_use``
pre-flight check and the ``watch`` after a successful run.

Both read ``pg_stat_statements``: the check looks for statements the application
still runs against what a migration drops or changes; the watch compares the
statements' mean times after the run with before it. Kept apart so
``commands.config.targets_file`` stays one table of keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from commands.config.table import ConfigTable

ROLE_NAME = re.compile(r"^[^\s\"]{1,63}$")
OFF = "off"


class LiveUseMode(StrEnum):
    """What a finding of live use does: warn (the approver must acknowledge it), fail, nothing."""

    WARN = "warn"
    FAIL = "fail"
    OFF = "off"


@dataclass(frozen=True)
class LiveUseSettings:
    """How the ``live_use`` check judges and where it looks."""

    mode: LiveUseMode = LiveUseMode.WARN
    roles: tuple[str, ...] = ()  # only these roles' statements count; () = every role
    window: float = 2.0  # seconds between the two samples that tell "still running now"


@dataclass(frozen=True)
class WatchSettings:
    """The watch after a successful run; ``period`` None: no watch."""

    period: float | None = None
    slowdown: float = 2.0  # a statement's mean time rising by this factor is a regression
    min_calls: int = 20  # calls a statement needs before and after for its means to count

    @property
    def enabled(self) -> bool:
        return self.period is not None


def parse_live_use_keys(table: ConfigTable) -> dict[str, Any]:
    """``live_use``, ``live_use_roles``, ``live_use_window``, ``watch``, ``watch_slowdown``,
    ``watch_min_calls``; raises ``ConfigError`` naming the key."""
    mode = table.string("live_use", LiveUseMode.WARN.value)
    if mode not in tuple(LiveUseMode):
        raise table.error("live_use", f"{mode!r} is not one of warn, fail, off")
    live_use = LiveUseSettings(
        mode=LiveUseMode(mode),
        roles=table.strings("live_use_roles", (), ROLE_NAME),
        window=table.duration("live_use_window", "2s"),
    )
    watch_text = table.string("watch", OFF)
    period = None if watch_text == OFF else table.duration("watch", OFF)
    slowdown = float(table.get("watch_slowdown", (int, float), 2.0))
    if slowdown <= 1:
        raise table.error(
            "watch_slowdown", f"must be a factor above 1 (2 is twice as slow), not {slowdown}"
        )
    watch = WatchSettings(
        period=period,
        slowdown=slowdown,
        min_calls=table.integer("watch_min_calls", 20, minimum=1),
    )
    return {"live_use": live_use, "watch": watch}
