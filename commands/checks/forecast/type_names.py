"""Column types as the catalog and the parser name them, and which type changes rewrite.

ALTER TABLE's documentation: changing a column's type "will require the
entire table and its indexes to be rewritten. As an exception, when changing
the type of an existing column, if the USING clause does not change the
column contents and the old type is either binary coercible to the new type
or an unconstrained domain over the new type, a table rewrite is not
needed." The exceptions PostgreSQL knows (its casts marked binary-coercible
and the length-coercion support functions of varchar, numeric, the time
types and bit varying) are written out here; anything else rewrites. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast

from commands.checks.forecast.names import last_name

# pg_type.typname of the SQL spellings pglast leaves as written
_ALIASES = {"character varying": "varchar", "character": "bpchar", "char": "bpchar"}
LENGTH_TYPES = frozenset({"varchar", "varbit"})  # a longer limit, or none, needs no rewrite
PRECISION_TYPES = frozenset({"timestamp", "timestamptz", "time", "timetz"})
BINARY_COERCIBLE = frozenset(
    {
        ("varchar", "text"),
        ("text", "varchar"),  # to varchar without a limit
        ("cidr", "inet"),
        ("json", "text"),
        ("xml", "text"),
    }
)
SERIAL_TYPES = frozenset({"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"})
_VARHDRSZ = 4


@dataclass(frozen=True)
class ColumnType:
    """A type by its ``pg_type.typname`` and its modifiers (``varchar(50)`` → ``(50,)``)."""

    name: str
    modifiers: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({','.join(map(str, self.modifiers))})" if self.modifiers else self.name

    @classmethod
    def from_catalog(cls, typname: str, typmod: int) -> ColumnType:
        """From ``pg_type.typname`` and ``pg_attribute.atttypmod`` (-1: no modifier)."""
        if typmod < 0:
            return cls(typname)
        if typname in ("varchar", "bpchar"):
            return cls(typname, (typmod - _VARHDRSZ,))
        if typname == "numeric":
            packed = typmod - _VARHDRSZ
            return cls(typname, ((packed >> 16) & 0xFFFF, packed & 0xFFFF))
        return cls(typname, (typmod,))

    @classmethod
    def from_sql(cls, node: ast.TypeName | None) -> ColumnType:
        """From the parser's ``TypeName`` (``pg_catalog.int4``, ``text``, ``numeric(10,2)``);
        none (which the grammar never leaves) is a type of no name, so a change rewrites."""
        if node is None:
            return cls("", ())
        name = last_name(node.names)
        modifiers = tuple(_integer(mod) for mod in node.typmods or ())
        if name == "numeric" and len(modifiers) == 1:
            modifiers = (modifiers[0], 0)  # numeric(p) is numeric(p, 0)
        return cls(_ALIASES.get(name, name), modifiers)


def _integer(node: Any) -> int:
    value = getattr(getattr(node, "val", None), "ival", None)
    return int(value) if value is not None else -1


def type_change_rewrites(
    old: ColumnType | None, new: ColumnType, *, using: Any, column: str, utc_session: bool = False
) -> tuple[bool, str]:
    """Whether changing a column from ``old`` to ``new`` rewrites the table, and why.
    ``utc_session``: the session's TimeZone is UTC, where timestamp and timestamptz store
    the same values (PostgreSQL 12+ then keeps the rows)."""
    if using is not None and not _plain_column(using, column):
        return True, "a USING expression computes every row anew"
    if old is None:
        return True, "its current type is not known here: assumed to rewrite"
    kept = _kept_reason(old, new)
    if kept is not None:
        return False, f"{old} → {new} {kept}"
    if {old.name, new.name} == {"timestamp", "timestamptz"}:
        if utc_session:
            return False, f"{old} → {new} keeps the rows in a UTC session"
        return True, f"{old} → {new} rewrites (the session's TimeZone is not UTC)"
    return True, f"{old} → {new} is not binary coercible"


def _kept_reason(old: ColumnType, new: ColumnType) -> str | None:
    """Why the rows can stay as they are, if they can."""
    if old == new:
        return "is the same type"
    if (old.name, new.name) in BINARY_COERCIBLE and not (new.name == "varchar" and new.modifiers):
        return "is binary coercible"
    if old.name == new.name and _widened(old, new):
        return "only widens the limit"
    return None


def _widened(old: ColumnType, new: ColumnType) -> bool:
    """A limit raised or removed: the length, precision or numeric precision of one type."""
    if not new.modifiers:
        return old.name in LENGTH_TYPES | PRECISION_TYPES | {"numeric"}
    if not old.modifiers:
        return False
    if old.name in LENGTH_TYPES | PRECISION_TYPES:
        return new.modifiers[0] >= old.modifiers[0]
    if old.name == "numeric":
        return new.modifiers[1] == old.modifiers[1] and new.modifiers[0] >= old.modifiers[0]
    return False


def _plain_column(node: Any, column: str) -> bool:
    """``USING col`` or ``USING col::type``: the contents unchanged."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    return isinstance(node, ast.ColumnRef) and last_name(node.fields) == column
