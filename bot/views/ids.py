"""Action and block ids: one place, so listeners, views and tests agree.

Contract other parts rely on: the approve button's ``action_id`` starts with
``approve``, the reject button's with ``reject``, and a button's ``value`` is
only an id (a request id, or a plan reference), never data to trust.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    VIEW_SQL = "view_sql"  # value: a plan reference (P-…) from /migrate plan
    VIEW_REQUEST_SQL = "view_request_sql"  # value: a request id
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel_request"  # before the run: cancel; while it runs: stop it
    CHECKLIST = "checklist"  # checkboxes; the block id carries the request id
    ROLL_BACK = "rollback_revisions"  # value: the failed request's id
    RESTORE_BACKUP = "rollback_restore"  # value: the failed request's id
    SCHEDULE = "schedule_request"  # value: a request id; opens the Schedule modal
    FLEET_BACK_TO_START = "fleet_back_to_start"  # value: the fleet request's id
    FLEET_RETRY = "fleet_retry"  # value: the fleet request's id
    LIVE_USE_ACK = "live_use_ack"  # checkbox; the block id carries the request id
    VIEW_LIVE_USE = "view_live_use"  # value: a request id; the live-use evidence in a modal
    VIEW_DRIFT = "view_drift"  # value: a request id; its pre-flight's drift in a modal
    VIEW_SCHEMA_CHANGES = "view_schema_changes"  # value: a request id; the run's schema diff
    SCHEMA_CHANGES_PAGE = "schema_changes_page"  # value: the page; the modal's metadata: the id
    # changes (value: a change's phase, "C-3:2", so a click on an old card acts on that phase
    # or is refused) and backfill runs (value: a run id, "B-4")
    CHANGE_ASK = "change_ask"
    CHANGE_CONFIRM = "change_confirm"
    CHANGE_CHECK = "change_check"
    CHANGE_ABANDON = "change_abandon"
    BACKFILL_APPROVE = "approve_backfill"  # starts with "approve", as the approve contract says
    BACKFILL_REJECT = "reject_backfill"
    BACKFILL_PAUSE = "backfill_pause"
    BACKFILL_RESUME = "backfill_resume"
    BACKFILL_STOP = "backfill_stop"


class BlockId(StrEnum):
    HEADER = "header"
    SUMMARY = "summary"
    REVISIONS = "revisions"
    PENDING = "pending"
    ACTIONS = "actions"
    FOOTER = "footer"
    COMMANDS = "commands"
    TARGETS = "targets"
    STATE = "state"
    PREFLIGHT = "preflight"
    CHECKLIST = "checklist"  # followed by ":" and the request id
    LIVE_USE = "live_use"  # the approvers' acknowledgement, followed by ":" and the request id
    DECIDE = "decide"  # followed by ":" and the plan fingerprint the buttons were shown with
    RUN = "run"
    WATCH = "watch"  # the watch's summary and alert
    OUTCOME = "outcome"
    WAYS_BACK = "ways_back"
    BACKUPS = "backups"
    SCHEDULE = "schedule"  # the scheduled slot on a request message, the windows in status
    SCHEDULE_WINDOW = "schedule_window"  # the Schedule modal's inputs
    SCHEDULE_DATE = "schedule_date"
    SCHEDULE_TIME = "schedule_time"
    REJECT_REASON = "reject_reason"  # the Reject modal's input
    HOME = "home"  # App Home sections, followed by "-" and what they hold
    EVIDENCE = "evidence"  # after a run: the Schema changes button
    SCHEMA_PAGES = "schema_pages"  # the Schema changes modal's Previous / Next
    PHASES = "phases"  # a change's phase list
    GATE = "gate"  # the current gate's conditions
    PROGRESS = "progress"  # a backfill's counts, rate and ETA


class ViewId(StrEnum):
    """Modals' ``callback_id``s; a modal's ``private_metadata`` is only an id."""

    SCHEDULE = "schedule_request"  # private_metadata: the request id
    REJECT = "reject_request"  # private_metadata: the request id
    SCHEMA_CHANGES = "schema_changes"  # private_metadata: the request id


def tagged(block: BlockId, tag: str) -> str:
    """A block id carrying a value (a request id, a fingerprint): ``checklist:M-12``."""
    return f"{block}:{tag}"


def tag_of(block_id: object, block: BlockId) -> str | None:
    """The value ``tagged`` put in ``block_id``, if it is one of ``block``'s."""
    if isinstance(block_id, str) and block_id.startswith(f"{block}:"):
        return block_id.removeprefix(f"{block}:")
    return None


def decide_block_id(fingerprint: str, request_id: str | None = None) -> str:
    """The block id of Approve and Reject: the plan fingerprint they were shown with, and
    (where several requests share a surface, the App Home) the request, to keep ids unique."""
    tag = f"{fingerprint}:{request_id}" if request_id else fingerprint
    return tagged(BlockId.DECIDE, tag)


def fingerprint_shown(block_id: object) -> str | None:
    """The plan fingerprint ``decide_block_id`` put in ``block_id``, if any."""
    tag = tag_of(block_id, BlockId.DECIDE)
    return tag.partition(":")[0] if tag is not None else None
