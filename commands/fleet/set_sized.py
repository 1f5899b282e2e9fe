"""The checks of a fleet's set plan that are sized by tables: the lint and the forecast, once
per distinct revision, against the largest member.

Every member runs the same revision files, so their SQL is read once; what it
costs (the findings' sizes, the forecast's time and locks) is worked out on
the member with the largest database, the one where a lock would last
longest and the run take longest.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from commands.checks.context import PreflightContext
from commands.checks.forecast.learned import Learned
from commands.checks.forecast_check import check_forecast
from commands.checks.framework import CheckResult, Verdict
from commands.checks.lint import check_lint
from commands.errors import MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.migration.script.plan import Plan
from commands.postgres.connections import connect, server_version
from commands.targets import TargetHandle

SIZED_CHECKS: dict[str, Callable[[PreflightContext], CheckResult]] = {
    "lint": check_lint,
    "forecast": check_forecast,
}


def sized_set_checks(
    largest: TargetHandle,
    plan: Plan,
    *,
    member: str,
    size: str,
    learned: Learned | None = None,
) -> list[CheckResult]:
    """The lint and the forecast of ``plan``'s revisions on ``largest``'s server and tables;
    a failure to run them is a failing lint, never an exception."""
    enabled = {n: check for n, check in SIZED_CHECKS.items() if largest.config.checks.enabled(n)}
    skipped = [
        CheckResult(name, Verdict.SKIP, "switched off in this target's checks.skip")
        for name in SIZED_CHECKS
        if name not in enabled
    ]
    try:
        with connect(largest.database) as conn:
            context = PreflightContext(
                handle=largest,
                conn=conn,
                server_version=server_version(conn),
                state=AlembicRunner.for_target(largest).inspect(),
                plan=plan,
                environ=os.environ,
                open_other=_no_other_target,
                learned=learned,
            )
            results = [check(context) for check in enabled.values()]
    except MigrateBotError as exc:
        return [CheckResult("lint", Verdict.FAIL, f"could not run on {member}: {exc}")]
    against = f"{member}, the largest member: {size}"
    return skipped + [
        CheckResult(
            r.name,
            r.verdict,
            f"{r.summary} (sized against {against})",
            r.details,
            {**r.data, "sized_against": against},
            r.duration_s,
        )
        for r in results
    ]


def _no_other_target(name: str) -> TargetHandle:
    raise MigrateBotError(f"the set's checks open no other target ({name})")
