"""When a scheduled request runs: a ``Slot``, chosen from a target's maintenance windows.

Pure functions of the target's config and the time now. A slot starts at a
clock time and, when it lies in a window, ends at that window's end (the
run is stopped there). A time outside every window is refused unless the
target sets ``allow_outside_windows``; the run then ends by ``max_duration``
alone. Times without a zone are read in the target's zone: that of its first
window, UTC when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from commands.config.targets_file import TargetConfig
from commands.config.windows import Occurrence, open_at, upcoming
from commands.errors import ExitCode, MigrateBotError


class ScheduleError(MigrateBotError):
    """The time asked for cannot be a slot (it is past, or does not exist that day)."""

    exit_code = ExitCode.BAD_INPUT


class OutsideWindowsError(ScheduleError):
    """The time is outside every maintenance window of a target that allows none other."""

    exit_code = ExitCode.REFUSED


@dataclass(frozen=True)
class Slot:
    """A scheduled run's start and, in a window, the window's end (aware, UTC)."""

    start: datetime
    end: datetime | None
    window: str | None  # the window's text as configured, e.g. "Sun 02:00-04:00 Europe/Berlin"
    zone: str  # the zone the slot is shown in

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "window": self.window,
            "zone": self.zone,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Slot:
        end = data.get("end")
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(end) if end else None,
            window=data.get("window"),
            zone=data.get("zone") or "UTC",
        )

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the slot's zone."""
        return moment.astimezone(ZoneInfo(self.zone))

    def describe(self) -> str:
        """``Sun 6 Dec 2026 02:00-04:00 Europe/Berlin``, in the slot's own zone."""
        start = self.local(self.start)
        text = f"{start:%a} {start.day} {start:%b %Y %H:%M}"
        if self.end is not None:
            end = self.local(self.end)
            text += f"-{end:%H:%M}" if end.date() == start.date() else f" - {end:%a %H:%M}"
        return f"{text} {self.zone}"


def target_zone(target: TargetConfig) -> ZoneInfo:
    """The zone a target's times are read in: its first window's, else UTC."""
    return target.windows[0].zone if target.windows else ZoneInfo("UTC")


def slot_at(target: TargetConfig, local: datetime, tz: str | None, *, now: datetime) -> Slot:
    """The slot starting at wall-clock ``local`` in ``tz`` (default: the target's zone).

    Raises ``ScheduleError`` for a time that is past or does not exist that day
    (a daylight-saving gap), ``OutsideWindowsError`` for one outside every window.
    """
    zone = ZoneInfo(tz) if tz else target_zone(target)
    start = local.replace(tzinfo=zone)
    shown = f"{local:%Y-%m-%d %H:%M} {zone.key}"
    if start.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise ScheduleError(f"{shown} does not exist (the clocks go forward that night)")
    return slot_for(target, start.astimezone(UTC), now=now, zone=zone.key, shown=shown)


def slot_for(
    target: TargetConfig,
    start: datetime,
    *,
    now: datetime,
    zone: str | None = None,
    shown: str | None = None,
) -> Slot:
    """The slot starting at the instant ``start``; raises as ``slot_at`` does."""
    shown = shown or f"{start.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if start <= now:
        raise ScheduleError(f"{shown} is in the past")
    opening = open_at(target.windows, start)
    if opening is not None:
        return _slot(opening, start)
    if target.allow_outside_windows:
        return Slot(start, None, None, zone or target_zone(target).key)
    raise OutsideWindowsError(_outside(target, shown, now))


def next_window_slot(target: TargetConfig, *, now: datetime) -> Slot:
    """The next window that opens after ``now`` (one open now has begun: too late to approve)."""
    slots = upcoming_slots(target, now=now, count=1)
    if not slots:
        raise OutsideWindowsError(
            f"{target.name} has no maintenance windows: set `windows` in its config,"
            " or schedule `at YYYY-MM-DD HH:MM` if it allows times outside windows"
        )
    return slots[0]


def upcoming_slots(target: TargetConfig, *, now: datetime, count: int) -> list[Slot]:
    """The next ``count`` windows opening after ``now``, as whole-window slots."""
    found = upcoming(target.windows, now, count + len(target.windows))
    return [_slot(o, o.start) for o in found if o.start > now][:count]


def _slot(opening: Occurrence, start: datetime) -> Slot:
    return Slot(start, opening.end, opening.window.text, opening.window.zone.key)


def _outside(target: TargetConfig, shown: str, now: datetime) -> str:
    if not target.windows:
        return (
            f"{shown} is refused: {target.name} has no maintenance windows and does not allow"
            " runs outside them (`allow_outside_windows`)"
        )
    windows = "; ".join(w.text for w in target.windows)
    nexts = ", ".join(s.describe() for s in upcoming_slots(target, now=now, count=3))
    return (
        f"{shown} is outside {target.name}'s maintenance windows ({windows})."
        f" The next ones open {nexts}; `next-window` takes the first"
    )
