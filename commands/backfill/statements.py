"""The SQL a backfill runs, composed once from its spec and its key's type. Pure.

A batch covers a range of the key, ``(after, upto]``: ``upto`` is the key
``size`` rows past ``after`` in key order (an index scan on the key), and the
update touches the rows of that range that the predicate still selects. The
range, not the rows updated, is the checkpoint: rows the predicate no longer
selects (done, or never needing it) are walked past, never revisited.
The first batch has no lower bound and the last no upper one.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from commands.config.backfill import BackfillSpec


def _fragment(text: str) -> sql.SQL:
    """A reviewed SQL fragment, with ``%`` doubled so psycopg takes none as a placeholder:
    every statement here is executed with parameters (``{}`` when it has none), so that
    psycopg reads ``%%`` back as ``%`` (without them it sends the text as it is)."""
    return sql.SQL(text.replace("%", "%%"))


@dataclass(frozen=True)
class BackfillStatements:
    """The statements of one backfill; ``key_type`` from the catalog (``uuid``, ``bigint``)."""

    spec: BackfillSpec
    key_type: str

    @property
    def table(self) -> sql.Composable:
        schema, name = self.spec.schema_and_table
        return sql.Identifier(schema, name) if schema else sql.Identifier(name)

    @property
    def key(self) -> sql.Identifier:
        return sql.Identifier(self.spec.key)

    def _bound(self, op: str, param: str) -> sql.Composable:
        return sql.SQL("{key} {op} CAST({param} AS {type})").format(
            key=self.key, op=sql.SQL(op), param=sql.Placeholder(param), type=sql.SQL(self.key_type)
        )

    def range_end(self, after: str | None) -> sql.Composed:
        """(last key, keys walked) of the next ``%(size)s`` keys after ``after``; no row
        when none is left. Fewer keys than asked: this is the last batch."""
        where = sql.SQL(" WHERE {}").format(self._bound(">", "after")) if after else sql.SQL("")
        return sql.SQL(
            "SELECT s.k::text AS last_key, count(*) OVER () FROM"
            " (SELECT {key} AS k FROM {table}{where} ORDER BY {key} LIMIT %(size)s) s"
            " ORDER BY s.k DESC LIMIT 1"
        ).format(key=self.key, table=self.table, where=where)

    def update(self, after: str | None, upto: str | None) -> sql.Composed:
        """The batch's ``UPDATE`` over ``(after, upto]``, of the rows still to do."""
        return sql.SQL("UPDATE {table} SET {set} WHERE {where}").format(
            table=self.table, set=_fragment(self.spec.set), where=self._to_do(after, upto)
        )

    def left(self, after: str | None, upto: str | None) -> sql.Composed:
        """Rows of ``(after, upto]`` the predicate still selects (0 after a batch whose
        ``SET`` makes its rows done). Read just after the batch commits, it visits the
        batch's old and new row versions while their pages are still dirty: their hint
        bits are set then, without writing the pages whole to the WAL again, as the first
        reader after a checkpoint must when data checksums are on."""
        return sql.SQL("SELECT count(*) FROM {table} WHERE {where}").format(
            table=self.table, where=self._to_do(after, upto)
        )

    def _to_do(self, after: str | None, upto: str | None) -> sql.Composable:
        conditions: list[sql.Composable] = []
        if after is not None:
            conditions.append(self._bound(">", "after"))
        if upto is not None:
            conditions.append(self._bound("<=", "upto"))
        conditions.append(sql.SQL("({})").format(_fragment(self.spec.where)))
        return sql.SQL(" AND ").join(conditions)

    def counts(self) -> sql.Composed:
        """(rows in the table, rows still to do): one scan."""
        return sql.SQL("SELECT count(*), count(*) FILTER (WHERE {where}) FROM {table}").format(
            where=_fragment(self.spec.where), table=self.table
        )

    def remaining(self) -> sql.Composed:
        """Rows the predicate still selects."""
        return sql.SQL("SELECT count(*) FROM {table} WHERE {where}").format(
            table=self.table, where=_fragment(self.spec.where)
        )


KEY_TYPE = """
SELECT format_type(a.atttypid, a.atttypmod),
       EXISTS (SELECT FROM pg_index i
               WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum AND i.indpred IS NULL
                 AND (SELECT amname FROM pg_am JOIN pg_class ic ON ic.relam = pg_am.oid
                      WHERE ic.oid = i.indexrelid) = 'btree')
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped
"""
"""The key's type and whether a plain btree index starts with it, or no row."""


def table_reference(conn: psycopg.Connection, spec: BackfillSpec) -> str:
    """The table's name quoted as ``to_regclass`` reads it."""
    schema, name = spec.schema_and_table
    identifier = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    return identifier.as_string(conn)
