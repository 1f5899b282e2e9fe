"""The Schedule modal's answer: read what was picked and turn it into a ``Slot``.

Pure. A wrong answer raises ``FormError`` naming the input it belongs under,
so the modal stays open with the sentence there (Slack's
``response_action: errors``). A date and a time win over a picked window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.views.blocks import clip
from bot.views.ids import BlockId
from bot.views.schedule import DATE_INPUT, TIME_INPUT, WINDOW_INPUT
from commands.config.targets_file import TargetConfig
from commands.requests.slots import ScheduleError, Slot, slot_at, slot_for

ERROR_CHARS = 300


class FormError(ValueError):
    """What is wrong, and under which input block to show it."""

    def __init__(self, block_id: str, message: str) -> None:
        super().__init__(message)
        self.block_id = block_id
        self.message = clip(message, ERROR_CHARS)

    @property
    def errors(self) -> dict[str, str]:
        return {self.block_id: self.message}


@dataclass(frozen=True)
class ScheduleForm:
    window: str | None  # the picked window's start, ISO 8601
    date: str | None  # YYYY-MM-DD
    time: str | None  # HH:MM


def read_form(view: Mapping[str, Any]) -> ScheduleForm:
    """The picked values from a ``view_submission``'s view (missing ones are ``None``)."""
    values = (view.get("state") or {}).get("values") or {}

    def value(block: str, action: str, key: str) -> str | None:
        entry = (values.get(block) or {}).get(action) or {}
        found = entry.get(key)
        if isinstance(found, dict):  # a select's selected_option
            found = found.get("value")
        return found if isinstance(found, str) and found else None

    return ScheduleForm(
        window=value(BlockId.SCHEDULE_WINDOW, WINDOW_INPUT, "selected_option"),
        date=value(BlockId.SCHEDULE_DATE, DATE_INPUT, "selected_date"),
        time=value(BlockId.SCHEDULE_TIME, TIME_INPUT, "selected_time"),
    )


def slot_from_form(form: ScheduleForm, target: TargetConfig, *, now: datetime) -> Slot:
    """The slot the form asks for; raises ``FormError``."""
    if form.date or form.time:
        if not form.date:
            raise FormError(BlockId.SCHEDULE_DATE, "Pick a date for that time.")
        if not form.time:
            raise FormError(BlockId.SCHEDULE_TIME, "Pick a time on that date.")
        try:
            local = datetime.strptime(f"{form.date} {form.time}", "%Y-%m-%d %H:%M")
        except ValueError:
            raise FormError(BlockId.SCHEDULE_TIME, "That is not a date and a time.") from None
        try:
            return slot_at(target, local, None, now=now)
        except ScheduleError as exc:
            raise FormError(BlockId.SCHEDULE_TIME, f"{exc}.") from None
    if form.window:
        try:
            start = datetime.fromisoformat(form.window)
        except ValueError:
            start = None
        if start is None or start.tzinfo is None:
            raise FormError(BlockId.SCHEDULE_WINDOW, "That is not one of the windows offered.")
        try:
            return slot_for(target, start, now=now)
        except ScheduleError as exc:
            raise FormError(BlockId.SCHEDULE_WINDOW, f"{exc}: pick another.") from None
    where = BlockId.SCHEDULE_WINDOW if target.windows else BlockId.SCHEDULE_DATE
    raise FormError(where, "Pick a window, or a date and a time.")
