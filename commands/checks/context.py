"""What every pre-flight check reads, in a module of its own.

The checks take a ``PreflightContext`` and ``preflight.py`` runs them; with the
context beside ``run_preflight`` each check module and the runner needed each
other. The costly parts (the plan's statements, the sizes of the tables they
touch) are computed once, on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import psycopg

from audit.store import Clock, utc_now
from commands.checks.forecast.learned import Learned
from commands.checks.sql_statements import Statement, parse_statements
from commands.checks.table_sizes import TableSize, table_sizes
from commands.config.checks import CheckSettings
from commands.migration.runtime.runner import ProjectState
from commands.migration.script.plan import Plan
from commands.schema.replay_cache import ReplayCache
from commands.targets import TargetHandle

OpenTarget = Callable[[str], TargetHandle]


@dataclass
class PreflightContext:
    """What every pre-flight check reads; the costly parts are computed once, on first use."""

    handle: TargetHandle
    conn: psycopg.Connection
    server_version: tuple[int, int]
    state: ProjectState
    plan: Plan
    environ: Mapping[str, str]
    open_other: OpenTarget
    clock: Clock = utc_now
    learned: Learned | None = None  # rates past runs on the target taught the forecast
    schema_cache: ReplayCache = field(default_factory=lambda: ReplayCache(None))

    @property
    def settings(self) -> CheckSettings:
        return self.handle.config.checks

    @cached_property
    def statements(self) -> dict[str, list[Statement]]:
        table = self.plan.version_table
        return {
            rev: parse_statements(rev, sql, version_table=table)
            for rev, sql in self.plan.sql.items()
        }

    @cached_property
    def table_sizes(self) -> dict[str, TableSize]:
        """Every table the plan's own statements name (not Alembic's version table)."""
        names = [
            table
            for statements in self.statements.values()
            for statement in statements
            if not statement.bookkeeping
            for table in statement.tables
        ]
        return table_sizes(self.conn, names)
