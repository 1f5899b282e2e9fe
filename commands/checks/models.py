"""The application's models against the database after a run: the revision nobody wrote.

Where env.py exposes ``target_metadata``, Alembic's own autogenerate
comparison (what ``alembic check`` runs) says what the models have that the
database lacks, or the other way round, in the project's own process. A
difference is a warning in verification, never a failure: the migration did
what its revisions say; the models say a revision is missing. Below head
(after a downgrade, or an upgrade to an earlier revision) nothing is
compared: the models describe head.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.checks.framework import CheckResult, Verdict
from commands.errors import AlembicError
from commands.migration.runtime.runner import ModelsComparison

CompareModels = Callable[[], ModelsComparison]


def check_models(compare: CompareModels) -> CheckResult:
    try:
        found = compare()
    except AlembicError as exc:
        return CheckResult("models", Verdict.WARN, f"could not compare the models: {exc}")
    if not found.has_metadata:
        return CheckResult("models", Verdict.SKIP, "env.py exposes no target_metadata")
    if not found.at_head:
        return CheckResult(
            "models",
            Verdict.SKIP,
            "the database is below the project's head, where the models differ by design:"
            " they are compared at head only, as `alembic check` compares them",
        )
    if not found.differences:
        return CheckResult("models", Verdict.PASS, "the application's models match the database")
    count = len(found.differences)
    noun = "difference" if count == 1 else "differences"
    return CheckResult(
        "models",
        Verdict.WARN,
        f"the application's models differ from the database: {count} {noun}"
        " (a revision nobody wrote?)",
        found.differences,
        {"differences": list(found.differences)},
    )
