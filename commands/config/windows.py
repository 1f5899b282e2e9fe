"""Maintenance windows: "Sun 02:00-04:00 Europe/Berlin", in the team's time zone.

Syntax: ``DAYS HH:MM-HH:MM ZONE`` where DAYS is a day (``Sun``), a list
(``Sat,Sun``), a range (``Mon-Fri``) or ``daily``, and ZONE an IANA time zone
(``UTC``, ``Europe/Berlin``). A window whose end is not after its start runs
past midnight (``Sat 23:00-01:00 UTC`` ends on Sunday). Times are wall-clock
times in the zone, so a window stays at 02:00 local across daylight-saving
changes; on the night a start time does not exist, the window opens at the
instant that time would have been and keeps its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SYNTAX = re.compile(
    r"^(?P<days>[A-Za-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+(?P<zone>\S+)$"
)
FORM = "DAYS HH:MM-HH:MM ZONE, e.g. 'Sun 02:00-04:00 Europe/Berlin' or 'Mon-Fri 03:00-04:00 UTC'"


@dataclass(frozen=True)
class Occurrence:
    """One concrete opening of a window (aware datetimes in UTC; show them in ``window.zone``)."""

    start: datetime
    end: datetime
    window: Window

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Window:
    """A weekly window: on ``weekdays`` (0 = Monday) from ``start`` to ``end`` in ``zone``."""

    text: str
    weekdays: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo

    def occurrence_on(self, day: date) -> Occurrence | None:
        """The window opening on ``day`` (local date), if it opens that day."""
        if day.weekday() not in self.weekdays:
            return None
        start = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        return Occurrence(start=start, end=start + self.length, window=self)

    @property
    def length(self) -> timedelta:
        """Wall-clock length; kept on daylight-saving days (02:30 may not exist, 1 h still does)."""
        end_day = 0 if self.end > self.start else 1
        wall_start = datetime.combine(date.min, self.start)
        return datetime.combine(date.min + timedelta(days=end_day), self.end) - wall_start

    def occurrences_from(self, moment: datetime) -> Iterator[Occurrence]:
        """Openings that end after ``moment``, in order (forever)."""
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        while True:
            occurrence = self.occurrence_on(day)
            if occurrence is not None and occurrence.end > moment:
                yield occurrence
            day += timedelta(days=1)


def parse_window(text: str) -> Window:
    """Parse one window; raises ``ValueError`` saying what is wrong and the right form."""
    match = _SYNTAX.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a window of the form {FORM}")
    try:
        zone = ZoneInfo(match["zone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r}: unknown time zone {match['zone']!r}") from None
    start, end = (_clock(text, match[key]) for key in ("start", "end"))
    if start == end:
        raise ValueError(f"{text!r}: the window is empty (start equals end)")
    return Window(
        text=text.strip(), weekdays=_weekdays(text, match["days"]), start=start, end=end, zone=zone
    )


def next_opening(windows: Iterable[Window], moment: datetime) -> Occurrence | None:
    """The earliest opening that has not ended by ``moment`` (it may be open now)."""
    candidates = [next(w.occurrences_from(moment)) for w in windows]
    return min(candidates, key=lambda o: o.start, default=None)


def upcoming(windows: Iterable[Window], moment: datetime, count: int) -> list[Occurrence]:
    """The next ``count`` openings across all windows, in order."""
    streams = [w.occurrences_from(moment) for w in windows]
    heads = [next(s) for s in streams]
    found: list[Occurrence] = []
    while heads and len(found) < count:
        index = min(range(len(heads)), key=lambda i: heads[i].start)
        found.append(heads[index])
        heads[index] = next(streams[index])
    return found


def open_at(windows: Iterable[Window], moment: datetime) -> Occurrence | None:
    """The opening containing ``moment``, if any (the one ending last when several do)."""
    containing = [
        o for o in (next(w.occurrences_from(moment)) for w in windows) if o.contains(moment)
    ]
    return max(containing, key=lambda o: o.end, default=None)


def _clock(text: str, value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r}: {value} is not a time of day (00:00-23:59)")
    return time(hours, minutes)


def _weekdays(text: str, spec: str) -> frozenset[int]:
    if spec.lower() == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{text!r}: {part!r} is not a day or range of days (Mon … Sun, daily)")
        start, stop = DAYS.index(first), DAYS.index(last or first)
        days.update(DAYS.index(d) % 7 for d in _cycle(start, stop))
    return frozenset(days)


def _cycle(start: int, stop: int) -> list[str]:
    """Days from ``start`` to ``stop`` inclusive, wrapping past Sunday (Fri-Mon works)."""
    span = (stop - start) % 7
    return [DAYS[(start + offset) % 7] for offset in range(span + 1)]
