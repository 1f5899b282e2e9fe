"""A backfill's keys: the table, its key, the ``SET`` and the predicate of rows still to
do, and how hard it may push. Read from ``[targets.NAME.backfills.BACKFILL]`` and from a
change file's backfill phase, with the same checks and errors naming the key.

The two SQL fragments come from a reviewed file, and are still checked with
PostgreSQL's parser (pglast) here, at load, so that a mistake stops at start
rather than in the middle of a run: no ``;``, no comments, balanced
parentheses (so the predicate stays one expression once wrapped), and the
statement the bot will run parses as one plain ``UPDATE`` of the table, with
no ``FROM``, ``RETURNING`` or ``WITH``. The parser is imported only when a
backfill is read: a targets file without one (``migrate-bot targets``) loads none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from commands.config.table import REQUIRED, ConfigTable
from commands.errors import ConfigError

BACKFILL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)?$")
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
KEYS = (
    "table",
    "key",
    "set",
    "where",
    "batch_time",
    "batch_size",
    "max_batch_size",
    "max_rows_per_second",
    "max_replica_lag",
    "max_lock_wait",
    "max_batch_time",
    "nice_ratio",
    "lock_timeout",
)


@dataclass(frozen=True)
class BackfillSpec:
    """What to update and how gently: one ``UPDATE table SET set WHERE where`` walked over
    ``key`` in batches. ``where`` selects the rows still to do, so a batch done twice
    changes nothing the second time."""

    name: str
    table: str  # "videos" or "schema.videos"
    key: str
    set: str
    where: str
    batch_time: float = 0.2  # seconds one batch should take (its rows' locks are held that long)
    batch_size: int = 1000  # rows in the first batch; later ones are sized to batch_time
    max_batch_size: int = 100_000
    max_rows_per_second: int | None = None
    max_replica_lag: float = 5.0  # seconds of replay delay on the target's replica
    max_lock_wait: float = 1.0  # a session waiting this long on a batch's rows cancels it
    max_batch_time: float = 0.4  # a batch's statements are cancelled past it: no lock held longer
    nice_ratio: float = 0.0  # rest after each batch for this share of its time (as gh-ost's)
    lock_timeout: float = 1.0

    @property
    def schema_and_table(self) -> tuple[str | None, str]:
        schema, _, table = self.table.rpartition(".")
        return (schema or None, table)

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in ("name", *KEYS)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackfillSpec:
        return cls(**{key: data[key] for key in ("name", *KEYS) if key in data})


def parse_backfill(name: str, table: ConfigTable) -> BackfillSpec:
    """One backfill's table, checked; raises ``ConfigError`` naming the key."""
    if not BACKFILL_NAME.match(name):
        raise ConfigError(
            table.source, table.prefix, "backfill names are lowercase letters, digits, '-' and '_'"
        )
    batch_time = table.duration("batch_time", "200ms")
    spec = BackfillSpec(
        name=name,
        table=table.string("table", REQUIRED, TABLE_NAME),
        key=table.string("key", REQUIRED, COLUMN_NAME),
        set=_fragment(table, "set"),
        where=_fragment(table, "where"),
        batch_time=batch_time,
        batch_size=table.integer("batch_size", 1000, minimum=1),
        max_batch_size=table.integer("max_batch_size", 100_000, minimum=1),
        max_rows_per_second=_optional_rate(table),
        max_replica_lag=table.duration("max_replica_lag", "5s"),
        max_lock_wait=table.duration("max_lock_wait", "1s"),
        max_batch_time=table.duration("max_batch_time", f"{2 * batch_time}s"),
        nice_ratio=_ratio(table),
        lock_timeout=table.duration("lock_timeout", "1s"),
    )
    if spec.max_batch_time < spec.batch_time:
        raise table.error("max_batch_time", f"is shorter than batch_time ({batch_time:g}s)")
    if spec.batch_size > spec.max_batch_size:
        raise table.error("batch_size", f"is more than max_batch_size ({spec.max_batch_size})")
    problem = update_problem(spec)
    if problem is not None:
        raise table.error(problem[0], problem[1])
    table.reject_unknown()
    return spec


def parse_backfills(table: ConfigTable) -> dict[str, BackfillSpec]:
    """``[targets.NAME.backfills.BACKFILL]`` tables, each checked."""
    raw = table.get("backfills", dict, {})
    found = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            raise table.error(f"backfills.{name}", "must be a table")
        found[name] = parse_backfill(name, table.child(f"backfills.{name}", value))
    return found


def _optional_rate(table: ConfigTable) -> int | None:
    if "max_rows_per_second" not in table.data:
        table.used.add("max_rows_per_second")
        return None
    return table.integer("max_rows_per_second", None, minimum=1)


def _ratio(table: ConfigTable) -> float:
    value = float(table.get("nice_ratio", (int, float), 0.0))
    if not 0 <= value <= 100:
        raise table.error("nice_ratio", f"must be between 0 and 100, not {value:g}")
    return value


def _fragment(table: ConfigTable, key: str) -> str:
    """A SQL fragment: one expression (or assignment list), no ``;``, no comments."""
    import pglast.parser

    text: str = table.string(key, REQUIRED)
    if not text.strip():
        raise table.error(key, "is empty")
    try:
        tokens = pglast.parser.scan(text)
    except pglast.parser.ParseError as exc:
        raise table.error(key, f"is not SQL PostgreSQL can read: {exc}") from None
    depth = 0
    for token in tokens:
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            raise table.error(key, "has a comment: write only the SQL")
        if token.name == "ASCII_59":
            raise table.error(key, "has a ';': one expression only, no second statement")
        depth += {"ASCII_40": 1, "ASCII_41": -1}.get(token.name, 0)
        if depth < 0:
            raise table.error(key, "closes a parenthesis it did not open")
    if depth:
        raise table.error(key, "leaves a parenthesis open")
    return text


def update_problem(spec: BackfillSpec) -> tuple[str, str] | None:
    """(key, problem) when the ``UPDATE`` the bot will run is not one plain update of the
    table; None when it is. Pure: the parser only."""
    import pglast
    from pglast import ast

    text = (
        f"UPDATE {spec.table} SET {spec.set}\nWHERE {spec.key} > $1 AND {spec.key} <= $2"
        f" AND ({spec.where}\n)"
    )
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        return ("set", f"does not make an UPDATE PostgreSQL can parse with where: {exc}")
    if len(statements) != 1 or not isinstance(statements[0].stmt, ast.UpdateStmt):
        return ("set", "must be the assignments of one UPDATE (column = expression, …)")
    update = statements[0].stmt
    if update.fromClause:
        return ("set", "has a FROM: a backfill updates its table from its own rows only")
    if update.returningClause or update.withClause:
        return ("set", "has RETURNING or WITH: write only the assignments")
    assigned = {target.name for target in update.targetList or ()}
    if spec.key in assigned:
        return ("set", f"assigns the key {spec.key}: the walk over it would skip or repeat rows")
    return None
