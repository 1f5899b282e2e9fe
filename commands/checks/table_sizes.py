"""How big the tables a migration touches are, from PostgreSQL's own statistics.

Rows come from ``pg_class.reltuples`` (the planner's estimate, kept fresh by
autovacuum's ANALYZE, scaled to the table's current size as the planner
scales it), never from ``count(*)``, which would scan a large table during
the pre-flight. A table never analyzed has no estimate, only its bytes.
Bytes come from ``pg_total_relation_size`` (table, indexes and TOAST) and
``pg_relation_size`` (the table alone: the runbook's estimate of an index
built on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from commands.units import format_bytes, format_rows

_SIZES = """
SELECT c.oid, pg_total_relation_size(c.oid), pg_relation_size(c.oid),
       CASE
           WHEN c.reltuples >= 0 AND c.relpages > 0
               -- as the planner does: scale the last estimate to the table's size now
               THEN (c.reltuples / c.relpages
                     * (pg_relation_size(c.oid) / current_setting('block_size')::bigint))::bigint
           WHEN c.reltuples >= 0 OR pg_relation_size(c.oid) = 0 THEN c.reltuples::bigint
       END
FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, position)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.name) AND c.relkind IN ('r', 'p', 'm')
ORDER BY t.position
"""


@dataclass(frozen=True)
class TableSize:
    """One table's estimated rows and bytes; ``exists`` is False for a table not yet created."""

    name: str
    exists: bool
    rows: int | None = None  # None: never analyzed, so no estimate
    total_bytes: int = 0
    heap_bytes: int = 0
    oid: int | None = None

    def describe(self) -> str:
        """'12.4 M rows, 3.1 GB' in an approver's words."""
        if not self.exists:
            return "new: created by a pending revision"
        rows = format_rows(self.rows) if self.rows is not None else "rows not analyzed yet"
        return f"{rows}, {format_bytes(self.total_bytes)}"


def quoted_name(name: str) -> str:
    """``schema.table`` with each part quoted, so ``to_regclass`` reads it literally."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def table_sizes(conn: psycopg.Connection, names: Iterable[str]) -> dict[str, TableSize]:
    """The size of each table named (as written in SQL; unqualified names follow search_path)."""
    wanted = list(dict.fromkeys(names))
    found = conn.execute(_SIZES, ([quoted_name(n) for n in wanted],)).fetchall()
    sizes = {}
    for name, (oid, total, heap, rows) in zip(wanted, found, strict=True):
        if oid is None:
            sizes[name] = TableSize(name=name, exists=False)
        else:
            estimate = None if rows is None else max(int(rows), 0)
            sizes[name] = TableSize(name, True, estimate, int(total), int(heap), int(oid))
    return sizes
