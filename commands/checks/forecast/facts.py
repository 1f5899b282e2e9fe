"""What the lock classification knows of the schema around a statement.

Whether ``ALTER COLUMN … TYPE`` rewrites depends on the column's type now,
whether ``ADD COLUMN … DEFAULT f()`` rewrites on ``f``'s volatility, whether
``SET NOT NULL`` scans on a valid ``CHECK (col IS NOT NULL)``, what ``VALIDATE
CONSTRAINT`` checks on the constraint's kind. The live catalog answers
(``catalog_facts.py``) and the plan's own statements update the answers as
they would change the schema, in order. Table names are kept as SQL writes
them; ``public.x`` and ``x`` are the same table here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from commands.checks.forecast.type_names import ColumnType


@dataclass(frozen=True)
class ConstraintFacts:
    """A constraint a later ``VALIDATE CONSTRAINT`` may name: a foreign key (and the table it
    references) or a check (and the column it proves not null, if that is all it says)."""

    foreign_table: str | None = None
    not_null_column: str | None = None

    @property
    def is_foreign_key(self) -> bool:
        return self.foreign_table is not None


@dataclass
class SchemaFacts:
    """The schema as the statement about to run finds it (updated by ``classify_plan``)."""

    server_major: int
    columns: dict[str, dict[str, ColumnType]] = field(default_factory=dict)
    volatility: dict[str, str] = field(default_factory=dict)  # function → 'i', 's' or 'v'
    constraints: dict[tuple[str, str], ConstraintFacts] = field(default_factory=dict)
    not_null_proven: dict[str, set[str]] = field(default_factory=dict)
    index_tables: dict[str, str] = field(default_factory=dict)  # index → its table
    utc_session: bool = False  # the server's TimeZone is UTC (timestamp ↔ timestamptz is free)

    def foreign_tables(self, table: str) -> list[str]:
        """The tables ``table``'s foreign keys reference."""
        key = table_key(table)
        return [
            facts.foreign_table
            for (owner, _), facts in self.constraints.items()
            if owner == key and facts.foreign_table is not None
        ]

    def column_type(self, table: str, column: str) -> ColumnType | None:
        return self.columns.get(table_key(table), {}).get(column)

    def add_column(self, table: str, column: str, kind: ColumnType | None) -> None:
        if kind is not None:
            self.columns.setdefault(table_key(table), {})[column] = kind

    def add_constraint(self, table: str, name: str, facts: ConstraintFacts) -> None:
        self.constraints[(table_key(table), name)] = facts

    def constraint(self, table: str, name: str) -> ConstraintFacts | None:
        return self.constraints.get((table_key(table), name))

    def prove_not_null(self, table: str, column: str) -> None:
        self.not_null_proven.setdefault(table_key(table), set()).add(column)

    def proven_not_null(self, table: str, column: str) -> bool:
        return column in self.not_null_proven.get(table_key(table), set())


def table_key(name: str) -> str:
    """``public.segments`` and ``segments`` are one table (the usual search_path)."""
    return name.removeprefix("public.")
