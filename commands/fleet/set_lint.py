"""The lint of a fleet's set plan: once per distinct revision, sized against the largest
member's tables.

Every member runs the same revision files, so their SQL is linted once; the
findings are sized (rows, bytes of the tables a statement locks) against the
member with the largest database, the one where a lock would last longest.
"""

from __future__ import annotations

import os

from commands.checks.context import PreflightContext
from commands.checks.framework import CheckResult, Verdict
from commands.checks.lint import check_lint
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import Plan
from commands.postgres.connections import connect, server_version
from commands.targets import TargetHandle


def lint_set(largest: TargetHandle, plan: Plan, *, member: str, size: str) -> CheckResult:
    """The lint of ``plan``'s revisions on ``largest``'s server and tables; a failure to
    run it is a failing check, never an exception."""
    if not largest.config.checks.enabled("lint"):
        return CheckResult("lint", Verdict.SKIP, "switched off in this target's checks.skip")
    try:
        with connect(largest.database) as conn:
            version = server_version(conn)
            state = AlembicRunner.for_target(largest).inspect()
            context = PreflightContext(
                handle=largest,
                conn=conn,
                server_version=version,
                state=state,
                plan=plan,
                environ=os.environ,
                open_other=_no_other_target,
            )
            result = check_lint(context)
    except MigrateBotError as exc:
        return CheckResult("lint", Verdict.FAIL, f"could not run on {member}: {exc}")
    summary = f"{result.summary} (sized against {member}, the largest member: {size})"
    return CheckResult(
        result.name, result.verdict, summary, result.details, result.data, result.duration_s
    )


def _no_other_target(name: str) -> TargetHandle:
    raise MigrateBotError(f"the set's lint opens no other target ({name})")
