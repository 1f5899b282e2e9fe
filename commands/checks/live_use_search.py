"""Which recorded application statements use what a set of breaking changes breaks.

The search the ``live_use`` check runs, and the changes' gates too (is anything
still reading ``videos.youtube_id``?): statements whose text names something
changed are read from ``pg_stat_statements``, the bot's own left out by
parse-tree fingerprint, each parsed (``statement_uses``) and matched with the
catalog settling which table an unqualified column belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pglast
import psycopg

from commands.checks.breaking_changes import BreakingChange
from commands.checks.live_use_findings import LiveUse, match_statements
from commands.checks.sql_names import SqlName
from commands.checks.statement_uses import StatementUses, uses_of
from commands.postgres.statement_stats import StatementRow, StatsSource, statements_naming


@dataclass(frozen=True)
class Matched:
    """What was searched and found."""

    found: list[LiveUse]
    searched: int  # statements whose text names something changed
    unreadable: int  # of those, not data statements or not parsable
    excluded: int  # the bot's own statements


def find_uses(
    conn: psycopg.Connection,
    source: StatsSource,
    changes: Sequence[BreakingChange],
    *,
    roles: Sequence[str],
    own: set[str],
) -> Matched:
    """The statements of ``roles`` (all, if none) that use what ``changes`` break, but for
    those whose fingerprint is in ``own``."""
    rows = statements_naming(conn, source, _names(changes), roles=roles)
    parsed: list[tuple[StatementRow, StatementUses]] = []
    unreadable = excluded = 0
    for row in rows:
        if fingerprint_of(row.query) in own:
            excluded += 1
            continue
        uses = uses_of(row.query)
        if uses is None:
            unreadable += 1
        else:
            parsed.append((row, uses))
    catalog = Catalog.read(conn, [t for _, uses in parsed for t in uses.relations])
    found = match_statements(changes, parsed, catalog.columns_of, catalog.has_default)
    return Matched(found, len(rows), unreadable, excluded)


def _names(changes: Iterable[BreakingChange]) -> set[str]:
    """Words a statement must contain to be worth parsing (the filter, not the match)."""
    return {change.column or change.target.name for change in changes}


def fingerprint_of(text: str) -> str | None:
    """The statement's parse-tree fingerprint (constants ignored); None if it does not parse."""
    try:
        return pglast.parser.fingerprint(text)
    except pglast.parser.ParseError:
        return None


_COLUMNS = """
SELECT n.nspname, c.relname, pg_table_is_visible(c.oid),
       array_agg(a.attname ORDER BY a.attnum),
       coalesce(array_agg(a.attname) FILTER (WHERE a.atthasdef OR a.attidentity <> ''), '{}')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
GROUP BY n.nspname, c.relname, c.oid
"""


@dataclass(frozen=True)
class Catalog:
    """The columns (and which have defaults) of the tables the statements name, now."""

    tables: dict[tuple[str, str], tuple[bool, frozenset[str], frozenset[str]]]

    @classmethod
    def read(cls, conn: psycopg.Connection, names: Iterable[SqlName]) -> Catalog:
        wanted = sorted({name.name for name in names})
        rows = conn.execute(_COLUMNS, (wanted,)).fetchall() if wanted else []
        return cls(
            {
                (schema, table): (visible, frozenset(columns), frozenset(defaults))
                for schema, table, visible, columns, defaults in rows
            }
        )

    def _entry(self, name: SqlName) -> tuple[bool, frozenset[str], frozenset[str]] | None:
        if name.schema is not None:
            return self.tables.get((name.schema, name.name))
        same = [entry for (_, table), entry in self.tables.items() if table == name.name]
        visible = [entry for entry in same if entry[0]]
        found = visible or same
        return found[0] if found else None

    def columns_of(self, name: SqlName) -> frozenset[str] | None:
        entry = self._entry(name)
        return entry[1] if entry else None

    def has_default(self, name: SqlName, column: str) -> bool | None:
        entry = self._entry(name)
        return column in entry[2] if entry else None
