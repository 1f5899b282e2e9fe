"""Pre-flight checks, post-run verification, partial-application forensics and rehearsal.

The pipeline calls these; everything else in the package serves them.
"""

from commands.checks.catalog import CatalogSnapshot, snapshot_catalog
from commands.checks.framework import CheckResult, Phase, Report, RollbackPath, Verdict
from commands.checks.partial import PartialApplication, detect_partial_application
from commands.checks.preflight import run_preflight
from commands.checks.recording import record_report
from commands.checks.rehearsal import Rehearsal, ScratchDatabase, ScratchFactory, rehearse
from commands.checks.verify import verify_after_run

__all__ = [
    "CatalogSnapshot",
    "CheckResult",
    "PartialApplication",
    "Phase",
    "Rehearsal",
    "Report",
    "RollbackPath",
    "ScratchDatabase",
    "ScratchFactory",
    "Verdict",
    "detect_partial_application",
    "record_report",
    "rehearse",
    "run_preflight",
    "snapshot_catalog",
    "verify_after_run",
]
