"""The words of the audit log: event kinds, request states and kinds, checklist items,
step statuses.

They live apart from opening the log so that anything may name them (the
targets file reads ``ChecklistItem``; views, flows and the fold read states)
without pulling in the store or the config that opening it needs.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """Every kind of event migrate-bot appends. Add new kinds here."""

    # backups (commands/backups…)
    BACKUP_STARTED = "backup_started"
    BACKUP_WRITING = "backup_writing"  # where it is being written (for cleanup after a crash)
    BACKUP_SUCCEEDED = "backup_succeeded"
    BACKUP_FAILED = "backup_failed"
    BACKUP_DELETED = "backup_deleted"
    BACKUP_CLEANED = "backup_cleaned"  # leftovers of an interrupted backup removed
    # restores (commands/backup/restore.py)
    RESTORE_STARTED = "restore_started"
    RESTORE_STAMPED = "restore_stamped"  # version table set to the backup's revision
    RESTORE_SUCCEEDED = "restore_succeeded"
    RESTORE_FAILED = "restore_failed"

    # pre-flight, verification, rehearsal and partial-application results (commands/checks)
    CHECK_RESULT = "check_result"
    # a run's or a rehearsal's revisions beside their forecast (commands/checks/forecast)
    FORECAST_SCORED = "forecast_scored"

    # requests (commands/requests/)
    REQUEST_CREATED = "request_created"
    PREFLIGHT_RECORDED = "preflight_recorded"
    CHECKLIST_TICKED = "checklist_ticked"
    APPROVAL_GRANTED = "approval_granted"
    BREAK_GLASS_APPROVAL = "break_glass_approval"
    REQUEST_REJECTED = "request_rejected"
    REQUEST_CANCELLED = "request_cancelled"
    REQUEST_EXPIRED = "request_expired"
    PLAN_CHANGED = "plan_changed"  # written by earlier versions at run start; folded still
    ACTION_REFUSED = "action_refused"
    RUN_REFUSED = "run_refused"  # the pipeline would not start it: the request ends refused
    RUN_STARTED = "run_started"
    RUN_STEP = "run_step"
    RUN_FINISHED = "run_finished"
    RUN_INTERRUPTED = "run_interrupted"
    TARGET_FROZEN = "target_frozen"
    TARGET_UNFROZEN = "target_unfrozen"

    # scheduled requests (commands/requests/schedules.py, commands/scheduling/)
    REQUEST_SCHEDULED = "request_scheduled"
    REQUEST_RESCHEDULED = "request_rescheduled"  # earlier approvals no longer count
    SCHEDULE_MISSED = "schedule_missed"  # the window passed while the bot was down: expired
    REMINDER_SENT = "reminder_sent"
    # before_run / after_run hooks around a run (commands/pipeline/hooks.py)
    HOOK_RAN = "hook_ran"

    # a fleet's run (commands/fleet/): its waves, and each member's way through the
    # pipeline; every member event names the member (target FLEET.MEMBER, data.member)
    WAVE_STARTED = "wave_started"
    WAVE_FINISHED = "wave_finished"
    MEMBER_STARTED = "member_started"
    MEMBER_STEP = "member_step"
    MEMBER_FINISHED = "member_finished"
    MEMBER_SKIPPED = "member_skipped"  # not run: its database moved, or it could not start
    MEMBER_INTERRUPTED = "member_interrupted"  # it ran when the bot stopped

    # the application's live use (commands/checks/live_use.py, commands/requests/live_use.py)
    LIVE_USE_ACKNOWLEDGED = "live_use_acknowledged"  # an approver read the evidence
    # the watch after a successful run (commands/pipeline/watch*.py)
    WATCH_SAMPLED = "watch_sampled"  # counters before approval: the start of "before the run"
    WATCH_STARTED = "watch_started"  # the run succeeded; what "before" was, counters at the start
    WATCH_REGRESSED = "watch_regressed"  # a regression seen during the watch (ops told at once)
    WATCH_FINISHED = "watch_finished"  # the summary, before/after figures

    # backfills (commands/backfill/): a run B-N, asked, approved, walked in batches
    BACKFILL_ASKED = "backfill_asked"  # the spec and the pre-flight's count and estimate
    BACKFILL_APPROVED = "backfill_approved"
    BACKFILL_CANCELLED = "backfill_cancelled"  # before it ran (rejected, or withdrawn)
    BACKFILL_STARTED = "backfill_started"  # an engine took it, from the checkpoint
    BACKFILL_BATCH = "backfill_batch"  # one batch committed: the checkpoint (last key done)
    BACKFILL_RETRIED = "backfill_retried"  # a batch timed out or was cancelled: redone smaller
    BACKFILL_HELD = "backfill_held"  # throttled: replica lag, unreadable replica
    BACKFILL_RELEASED = "backfill_released"  # the reason to hold is gone
    BACKFILL_PAUSED = "backfill_paused"  # by a person; the engine stops after its batch
    BACKFILL_RESUMED = "backfill_resumed"  # by a person, after a pause, an interruption, a failure
    BACKFILL_STOPPED = "backfill_stopped"  # by a person: the run ends where it is
    BACKFILL_FINISHED = "backfill_finished"  # done (nothing left) or failed (the error)
    BACKFILL_INTERRUPTED = "backfill_interrupted"  # its engine died with the bot

    # changes across deploys (commands/changes/): a change C-N, phase by phase
    CHANGE_STARTED = "change_started"  # the change file's phases, as started
    CHANGE_PHASE_ASKED = "change_phase_asked"  # a migrate or backfill phase's request / run
    DEPLOY_CONFIRMED = "deploy_confirmed"  # a person or the deploy pipeline: the version is out
    GATE_SAMPLED = "gate_sampled"  # the application's use of a column, counted
    GATE_CHECKED = "gate_checked"  # a gate's evidence, held or not
    CHANGE_PHASE_DONE = "change_phase_done"
    CHANGE_REMINDED = "change_reminded"  # a phase waited longer than stale_after
    CHANGE_FINISHED = "change_finished"
    CHANGE_ABANDONED = "change_abandoned"

    # schema evidence (commands/schema/): drift checked with no request, a run's schema diff
    DRIFT_CHECKED = "drift_checked"  # state, digest, since when; changed: the ops channel is told
    SCHEMA_DIFF = "schema_diff"  # a run's before/after diff: its sha256 and summary

    # the state itself (commands/state/restore.py): brought back from its replica
    STATE_RESTORED = "state_restored"


class RequestState(StrEnum):
    """Where a request stands; derived from its events, never stored."""

    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUSED = "refused"  # approved, but the pipeline refused to start it (reason recorded)
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self not in OPEN_STATES


PENDING_STATES = frozenset({RequestState.REQUESTED, RequestState.AWAITING_APPROVAL})
"""Asked, not approved yet: approvals, rejection and a new plan still apply."""
BEFORE_RUN_STATES = PENDING_STATES | {RequestState.APPROVED}
"""Not started: it may still be cancelled, scheduled, moved or expired."""
OPEN_STATES = BEFORE_RUN_STATES | {RequestState.RUNNING}
"""Not final: every other state ends the request."""
RUN_OUTCOMES = (RequestState.SUCCEEDED, RequestState.FAILED, RequestState.ABORTED)


class MemberState(StrEnum):
    """Where one member of a fleet run stands; derived from its events, never stored."""

    PENDING = "pending"  # its turn has not come (yet)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"  # stopped at a revision boundary (Stop, a deadline)
    SKIPPED = "skipped"  # never run: it drifted from the approved plan, or could not start
    INTERRUPTED = "interrupted"
    NOT_STARTED = "not_started"  # the run ended before its turn (max_failures, Stop)

    @property
    def is_final(self) -> bool:
        return self not in (MemberState.PENDING, MemberState.RUNNING)


class RequestKind(StrEnum):
    UPGRADE = "upgrade"  # to head or a revision
    DOWNGRADE = "downgrade"  # to a revision, base or -N
    RESTORE = "restore"  # a recorded backup


class ChecklistItem(StrEnum):
    """The runbook's pre-migration checks that need a human's word.

    The bot itself does the others (backup, disk space, notifying stakeholders).
    """

    CODE_REVIEWED = "code_reviewed"
    STAGING_TESTED = "staging_tested"
    APP_COMPATIBLE = "app_compatible"
    DOWNTIME_PLANNED = "downtime_planned"
    ROLLBACK_PLANNED = "rollback_planned"

    @property
    def label(self) -> str:
        return CHECKLIST_LABELS[self]


CHECKLIST_LABELS = {
    ChecklistItem.CODE_REVIEWED: "Migration code reviewed and approved",
    ChecklistItem.STAGING_TESTED: "Applied and tested in staging",
    ChecklistItem.APP_COMPATIBLE: "Application works with both the old and the new schema",
    ChecklistItem.DOWNTIME_PLANNED: "No downtime needed, or a maintenance window is planned",
    ChecklistItem.ROLLBACK_PLANNED: "Rollback plan prepared",
}


class StepStatus(StrEnum):
    """How one step of a run went (a step: pre-flight, backup, a revision, verify…)."""

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
