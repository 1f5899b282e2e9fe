"""A target's schema drift keys: ``drift``, ``drift_ignore`` and ``drift_schedule``.

Drift is the live schema differing from what the migration history says it
should be at the database's revision (``commands/schema/drift.py``). Kept
apart so ``commands.config.targets_file`` stays one table of keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from commands.config.table import ConfigTable
from commands.config.windows import Window, parse_window

OFF = "off"
IGNORE_PATTERN = re.compile(r"^[^\s]{1,200}$")
_SCHEDULE = re.compile(r"^(?P<days>\S+)\s+(?P<clock>\d{1,2}:\d{2})\s+(?P<zone>\S+)$")
SCHEDULE_FORM = "DAYS HH:MM ZONE, e.g. 'daily 06:00 UTC' or 'Mon-Fri 07:30 Europe/Berlin'"


class DriftMode(StrEnum):
    """What drift found before a run does: warn the approver, block approval, nothing."""

    WARN = "warn"
    FAIL = "fail"
    OFF = "off"


@dataclass(frozen=True)
class DriftSchedule:
    """When the sweep checks a target with no request: ``daily 06:00 UTC``."""

    text: str
    window: Window  # a one-minute window opening at the sweep's time

    def next_after(self, moment: datetime) -> datetime:
        """The first sweep strictly after ``moment``."""
        for occurrence in self.window.occurrences_from(moment):
            if occurrence.start > moment:
                return occurrence.start
        raise AssertionError("a weekly schedule always has a next time")  # pragma: no cover


@dataclass(frozen=True)
class DriftSettings:
    """The ``drift`` check's mode, what it leaves out and when the sweep runs."""

    mode: DriftMode = DriftMode.WARN
    ignore: tuple[str, ...] = ()
    schedule: DriftSchedule | None = None


def parse_schedule(text: str) -> DriftSchedule:
    """``DAYS HH:MM ZONE``; raises ``ValueError`` saying what is wrong and the right form."""
    match = _SCHEDULE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of the form {SCHEDULE_FORM}")
    hours, _, minutes = match["clock"].partition(":")
    end_minute = (int(hours) * 60 + int(minutes) + 1) % (24 * 60)
    end = f"{end_minute // 60:02d}:{end_minute % 60:02d}"
    window = parse_window(f"{match['days']} {match['clock']}-{end} {match['zone']}")
    return DriftSchedule(text=text.strip(), window=window)


def parse_drift_keys(table: ConfigTable) -> dict[str, Any]:
    """``drift``, ``drift_ignore``, ``drift_schedule``; raises ``ConfigError`` naming the key."""
    mode = table.string("drift", DriftMode.WARN.value)
    if mode not in tuple(DriftMode):
        raise table.error("drift", f"{mode!r} is not one of warn, fail, off")
    schedule_text = table.string("drift_schedule", OFF)
    schedule = None
    if schedule_text != OFF:
        try:
            schedule = parse_schedule(schedule_text)
        except ValueError as exc:
            raise table.error("drift_schedule", str(exc)) from None
    settings = DriftSettings(
        mode=DriftMode(mode),
        ignore=table.strings("drift_ignore", (), IGNORE_PATTERN),
        schedule=schedule,
    )
    return {"drift": settings}
