"""Window syntax, next openings and DST (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.config.windows import next_opening, open_at, parse_window, upcoming

BERLIN = ZoneInfo("Europe/Berlin")


def test_next_opening_is_in_the_team_zone() -> None:
    window = parse_window("Sun 02:00-04:00 Europe/Berlin")
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # a Wednesday
    opening = next_opening([window], now)
    assert opening is not None
    assert opening.start == datetime(2026, 12, 6, 2, 0, tzinfo=BERLIN)
    assert opening.start.astimezone(BERLIN).hour == 2 and opening.start.hour == 1
    assert opening.end - opening.start == timedelta(hours=2)


def test_window_open_now_counts_and_past_midnight_windows_end_next_day() -> None:
    windows = [parse_window("Sat 23:00-01:00 UTC"), parse_window("Wed 03:00-04:00 UTC")]
    inside = datetime(2026, 12, 6, 0, 30, tzinfo=UTC)  # Sunday 00:30, inside Saturday's window
    opening = open_at(windows, inside)
    assert opening is not None and opening.start == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert open_at(windows, datetime(2026, 12, 6, 1, 0, tzinfo=UTC)) is None
    nxt = upcoming(windows, datetime(2026, 12, 6, 1, 0, tzinfo=UTC), 3)
    assert [o.start.day for o in nxt] == [9, 12, 16]


def test_wall_clock_survives_daylight_saving() -> None:
    window = parse_window("daily 02:30-03:30 Europe/Berlin")
    # 2027-03-28: clocks jump from 02:00 to 03:00 in Berlin
    march = upcoming([window], datetime(2027, 3, 27, 12, 0, tzinfo=UTC), 3)
    assert [o.start.astimezone(BERLIN).day for o in march] == [28, 29, 30]
    assert all(o.end - o.start == timedelta(hours=1) for o in march)
    utc_starts = [o.start.astimezone(UTC).hour for o in march]
    assert utc_starts == [1, 0, 0]  # 02:30 CET the night it is skipped, 02:30 CEST after
    october = next_opening([window], datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    assert october is not None and october.start.astimezone(BERLIN).utcoffset() == timedelta(
        hours=1
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Sunday 02:00-04:00 UTC", "not a day"),
        ("Sun 2-4 UTC", "not a window of the form"),
        ("Sun 25:00-04:00 UTC", "not a time of day"),
        ("Sun 02:00-02:00 UTC", "empty"),
        ("Sun 02:00-04:00 Mars/Olympus", "unknown time zone"),
        ("Sun 02:00-04:00", "not a window of the form"),
    ],
)
def test_bad_windows_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_window(text)


def test_day_lists_and_wrapping_ranges() -> None:
    assert parse_window("Sat,Sun 01:00-02:00 UTC").weekdays == {5, 6}
    assert parse_window("Fri-Mon 01:00-02:00 UTC").weekdays == {4, 5, 6, 0}
    assert parse_window("Mon-Fri 01:00-02:00 UTC").weekdays == {0, 1, 2, 3, 4}


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_next_opening_never_ends_before_now(moment: datetime) -> None:
    windows = [
        parse_window("Tue 22:00-02:00 America/New_York"),
        parse_window("Sun 02:00-04:00 UTC"),
    ]
    now = moment.replace(tzinfo=UTC)
    opening = next_opening(windows, now)
    assert opening is not None and opening.end > now
    assert opening.start - now < timedelta(days=8)
