"""Differences told in words: one line each, for drift and for a run's schema changes.

Drift speaks of "the database" and "the history" ("index `ix_videos_created`
exists in the database but not in the history"; "column `jobs.status` is
`text` in the database, `varchar(20)` in the history"); a run's diff of
before and after ("+ index `ix_jobs_status` on `jobs`"). The counts line of
an announcement rolls columns up into their tables ("3 tables changed, 1
index added"). Pure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from commands.schema.compare import Change, Difference
from commands.schema.model import BUILD_ORDER, Kind, Value

_STATES = frozenset(
    {"type", "nullable", "valid", "unique", "enabled", "validated", "persistence", "cycle"}
)
"""Attributes said with "is" (a state); the others are said with "has"."""

_SHORT_TYPES = (
    (re.compile(r"\bcharacter varying\b"), "varchar"),
    (re.compile(r"\bcharacter\b"), "char"),
    (re.compile(r"\btimestamp(\(\d+\))? with time zone\b"), r"timestamptz\1"),
    (re.compile(r"\btimestamp(\(\d+\))? without time zone\b"), r"timestamp\1"),
    (re.compile(r"\btime(\(\d+\))? with time zone\b"), r"timetz\1"),
    (re.compile(r"\btime(\(\d+\))? without time zone\b"), r"time\1"),
    (re.compile(r"\bboolean\b"), "bool"),
)
_LONG = 120
_UNSET = {"persistence": "logged"}


def short_type(name: str) -> str:
    """``character varying(20)`` → ``varchar(20)``, as people write types."""
    for pattern, short in _SHORT_TYPES:
        name = pattern.sub(short, name)
    return name


def drift_line(difference: Difference) -> str:
    """One drift difference, "the database" against "the history"."""
    subject = f"{difference.kind.value} `{difference.display}`"
    if difference.change is Change.REMOVED:
        return f"{subject} exists in the database but not in the history"
    if difference.change is Change.ADDED:
        return f"{subject} exists in the history but not in the database"
    attribute = str(difference.attribute)
    database, history = _shown(difference, difference.old), _shown(difference, difference.new)
    if attribute not in _STATES and (difference.old is None or difference.new is None):
        if difference.old is None:
            return f"{subject} has no {attribute} in the database, {history} in the history"
        return f"{subject} has {attribute} {database} in the database, none in the history"
    if database is None or history is None:
        return f"{subject} has another {attribute} in the database than in the history"
    verb = "is" if attribute in _STATES else f"has {attribute}"
    return f"{subject} {verb} {database} in the database, {history} in the history"


def change_line(difference: Difference) -> str:
    """One difference of a run, before against after: ``+``, ``-`` or ``~``."""
    subject = f"{difference.kind.value} `{difference.display}`"
    on = (
        f" on `{difference.table}`"
        if difference.table and difference.kind in (Kind.INDEX, Kind.TRIGGER)
        else ""
    )
    if difference.change is Change.ADDED:
        return f"+ {subject}{on}"
    if difference.change is Change.REMOVED:
        return f"- {subject}{on}"
    before, after = _shown(difference, difference.old), _shown(difference, difference.new)
    if before is None or after is None:
        return f"~ {subject}: {difference.attribute} changed"
    return f"~ {subject}: {difference.attribute} {before} → {after}"


def _shown(difference: Difference, value: Value) -> str | None:
    """A value as a line shows it; None when it is too long for one line (a view's query)."""
    if value is None:
        return _UNSET.get(str(difference.attribute), "none")
    if isinstance(value, tuple):
        text = ", ".join(f"'{item}'" for item in value)
        return text if len(text) <= _LONG else None
    if difference.attribute in ("nullable",):
        return "nullable" if value == "NULL" else value
    if difference.attribute in _STATES and difference.attribute != "type":
        return value
    if "\n" in value or len(value) > _LONG:
        return None
    shown = short_type(value) if difference.attribute == "type" else value
    return f"`{shown}`"


def counts_line(differences: Iterable[Difference]) -> str:
    """ "3 tables changed, 1 index added": columns, constraints and table attributes count as
    their table changed; other kinds count on their own."""
    counts: Counter[tuple[Kind, Change]] = Counter()
    changed_tables: set[str] = set()
    for difference in differences:
        kind, change = difference.kind, difference.change
        if kind in (Kind.COLUMN, Kind.CONSTRAINT) or (
            kind is Kind.TABLE and change is Change.CHANGED
        ):
            changed_tables.add(difference.table or difference.display)
            continue
        counts[(kind, Change.CHANGED if change is Change.CHANGED else change)] += 1
    parts = []
    if changed_tables:
        counts[(Kind.TABLE, Change.CHANGED)] = len(changed_tables)
    for kind in BUILD_ORDER:
        for change in Change:
            number = counts[(kind, change)]
            if number:
                noun = kind.value if number == 1 else kind.plural
                parts.append(f"{number} {noun} {change.value}")
    return ", ".join(parts) or "no schema change"
