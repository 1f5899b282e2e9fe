"""What a failed revision left behind, and the exact fix.

A revision runs in one transaction, so a failure normally leaves nothing. A
revision that uses ``autocommit_block`` (``CREATE INDEX CONCURRENTLY``,
batched backfills) commits as it goes: when it fails part way, the work
before the failure stays, a failed concurrent build leaves an INVALID index,
and the version table is not stamped. A plain retry then trips over what is
there, or worse, ``IF NOT EXISTS`` skips the invalid index and the revision
"succeeds" with a useless index. This module looks at the database after the
failure and says what is there and what to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType

from commands.checks.catalog import CatalogObject, CatalogSnapshot, snapshot_catalog
from commands.checks.framework import CheckResult, Verdict
from commands.checks.sql_names import relname
from commands.checks.sql_statements import Statement, parse_statements
from commands.migration.runtime.runner import AlembicRunner, AlembicSession
from commands.migration.script.revision_file import review_file
from commands.migration.script.revision_graph import Direction, Revision
from commands.targets import TargetHandle

NO_FIX = "none needed: a retry skips it (IF NOT EXISTS)"


@dataclass(frozen=True)
class Leftover:
    """One object that is in the database although its revision is not recorded as applied."""

    key: str  # the object's schema-qualified key
    what: str  # "INVALID index public.idx_x on public.t"
    fix: str

    @property
    def needs_action(self) -> bool:
        return self.fix != NO_FIX


@dataclass(frozen=True)
class PartialApplication:
    revision: str
    stamped: bool
    uses_autocommit_block: bool
    leftovers: tuple[Leftover, ...]

    def result(self) -> CheckResult:
        """As a check result: fail while anything needs fixing before a retry."""
        data = {
            "revision": self.revision,
            "stamped": self.stamped,
            "uses_autocommit_block": self.uses_autocommit_block,
            "leftovers": [{"what": o.what, "fix": o.fix} for o in self.leftovers],
        }
        details = tuple(f"{o.what}; fix: {o.fix}" for o in self.leftovers)
        if not self.leftovers:
            why = (
                "its transaction was rolled back"
                if not self.uses_autocommit_block
                else "nothing its autocommit block committed is there"
            )
            return CheckResult(
                "partial", Verdict.PASS, f"{self.revision} left nothing behind: {why}", (), data
            )
        acting = [o for o in self.leftovers if o.needs_action]
        verdict = Verdict.FAIL if acting else Verdict.WARN
        summary = (
            f"{self.revision} failed part way and left {len(self.leftovers)} object(s);"
            f" {len(acting)} must be fixed before a retry"
        )
        return CheckResult("partial", verdict, summary, details, data)


def detect_partial_application(
    handle: TargetHandle,
    revision: Revision,
    *,
    sql: str | None = None,
    before: CatalogSnapshot | None = None,
    session: AlembicSession | None = None,
) -> PartialApplication:
    """Inspect ``handle`` after ``revision`` failed on the way up.

    ``sql`` is the revision's offline SQL (rendered again when not given; a
    revision that cannot be rendered offline is judged by the catalog alone);
    objects in ``before`` (the snapshot taken before the run) existed already
    and are not leftovers. ``session`` is the caller's Alembic child, if it
    has one. Raises ``AlembicError``/``DatabaseUnavailableError``.
    """
    if session is None:
        with AlembicRunner.for_target(handle).session() as own:
            return detect_partial_application(handle, revision, sql=sql, before=before, session=own)
    current = session.current()
    stamped = revision.id in current
    if sql is None:
        sql = session.offline_sql([(revision.id, current)], Direction.UP).sql.get(revision.id, "")
    snapshot = snapshot_catalog(handle.database)
    found = list(_leftovers(parse_statements(revision.id, sql), snapshot, before))
    return PartialApplication(
        revision=revision.id,
        stamped=stamped,
        uses_autocommit_block=review_file(revision.path).commits_part_way,
        leftovers=tuple(found) + tuple(_foreign_invalid(snapshot, before, found)),
    )


def _leftovers(
    statements: list[Statement], snapshot: CatalogSnapshot, before: CatalogSnapshot | None
) -> Iterator[Leftover]:
    for statement in statements:
        for kind, name, guarded, undo in _creations(statement.node):
            for obj in _named(snapshot, kind, name):
                if before is not None and (obj.kind, obj.key) in before.objects:
                    continue
                yield _leftover(obj, guarded, undo)


def _leftover(obj: CatalogObject, guarded: bool, undo: str) -> Leftover:
    where = f" on {obj.table}" if obj.table and obj.kind != "column" else ""
    if obj.kind == "index" and obj.state == "INVALID":
        skip = " (IF NOT EXISTS would skip it on a retry)" if guarded else ""
        return Leftover(
            obj.key,
            f"INVALID index {obj.key}{where}, left by a failed concurrent build{skip}",
            f"DROP INDEX CONCURRENTLY {obj.key}; then retry",
        )
    name = obj.key if obj.kind == "column" else obj.name
    return Leftover(
        obj.key,
        f"{obj.kind} {name}{where} already exists",
        NO_FIX if guarded else f"{undo}; then retry",
    )


def _named(snapshot: CatalogSnapshot, kind: str, name: str) -> list[CatalogObject]:
    table, _, short = name.rpartition("|")
    return [
        obj
        for obj in snapshot.of_kind(kind)
        if obj.name == short and (not table or (obj.table or "").rsplit(".", 1)[-1] == table)
    ]


def _creations(node: Any) -> Iterator[tuple[str, str, bool, str]]:
    """(kind, name, guarded by IF NOT EXISTS / OR REPLACE, the statement that undoes it)."""
    if isinstance(node, ast.IndexStmt) and node.idxname:
        drop = f"DROP INDEX CONCURRENTLY {node.idxname}"
        yield "index", node.idxname, bool(node.if_not_exists), drop
    elif isinstance(node, ast.CreateStmt):
        table = relname(node.relation)
        yield "table", table, bool(node.if_not_exists), f"DROP TABLE {table}"
    elif isinstance(node, ast.CreateTrigStmt):
        table = relname(node.relation)
        drop = f"DROP TRIGGER {node.trigname} ON {table}"
        yield "trigger", f"{table}|{node.trigname}", bool(node.replace), drop
    elif isinstance(node, ast.AlterTableStmt):
        table = relname(node.relation)
        for command in node.cmds or ():
            if command.subtype == AlterTableType.AT_AddColumn:
                column = command.def_.colname
                drop = f"ALTER TABLE {table} DROP COLUMN {column}"
                yield "column", f"{table}|{column}", bool(command.missing_ok), drop
            elif command.subtype == AlterTableType.AT_AddConstraint and command.def_.conname:
                name = command.def_.conname
                drop = f"ALTER TABLE {table} DROP CONSTRAINT {name}"
                yield "constraint", f"{table}|{name}", False, drop


def _foreign_invalid(
    snapshot: CatalogSnapshot, before: CatalogSnapshot | None, found: list[Leftover]
) -> Iterator[Leftover]:
    """INVALID indexes the revision's SQL does not name (built by hand, or by env.py code)."""
    named = {o.key for o in found}
    for obj in snapshot.of_kind("index"):
        if obj.state != "INVALID" or obj.key in named:
            continue
        if before is not None and before.objects.get(("index", obj.key)) == obj:
            continue
        yield Leftover(
            obj.key,
            f"INVALID index {obj.key} on {obj.table}",
            f"DROP INDEX CONCURRENTLY {obj.key}; then retry",
        )
