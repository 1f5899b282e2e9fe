"""What the bot tells people outside the request message: the approvers when a
request needs them, the ops channel and stakeholders when a run ends (or was
interrupted), the requester in a direct message, and the run's end in the
request's thread. A fleet's say the same of its members (counts, each member that
failed, each one a dead run left). Pure functions: domain objects in, text and
blocks out (the thread's lines as a run goes: ``thread_lines``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.views.blocks import Block, code, context, escape, lines_in_sections, section
from bot.views.forecast import beside_forecast, score_headline
from bot.views.ids import BlockId
from bot.views.outcome import ways_back_buttons
from bot.views.people import mention, people
from bot.views.status import revisions_text
from bot.views.thread_lines import ENDED_BADLY, clip
from commands.fleet.set_plan import groups, members_to_run
from commands.pipeline.progress import FleetOutcome, MemberOutcome, RunOutcome
from commands.pipeline.ways_back import WayBack
from commands.requests.model import Freeze, Request
from commands.state.vocabulary import MemberState, RequestState
from commands.units import format_bytes, format_duration

Message = tuple[str, list[Block]]


class DeadRun(Protocol):
    """What the announcement shows of a run found dead at start-up (``commands.pipeline.
    recovery.InterruptedRun``, read here without importing the recovery, which opens
    targets and takes their run locks)."""

    @property
    def request(self) -> Request: ...
    @property
    def step(self) -> str | None: ...
    @property
    def last_revision_applied(self) -> str | None: ...
    @property
    def database_revisions(self) -> tuple[str, ...] | None: ...


OUTCOME_ICONS = {
    RequestState.SUCCEEDED: "✅",
    RequestState.FAILED: "❌",
    RequestState.ABORTED: "🛑",
    RequestState.INTERRUPTED: "⚠️",
}
THREAD_LINES = 40
NAMES_PER_STATE = 30


REQUEST_LINK = "{request_link}"
"""Where the approver's direct message links to the request message; the notifier puts
the link there once the message is posted (``chat.getPermalink``)."""


def approval_wanted(request: Request, channel: str | None, channel_name: str | None) -> Message:
    """The direct message an approver gets when a request needs them: what is asked (a
    fleet's: how many members, how many groups), and a link to the request message
    (``REQUEST_LINK``) in its channel, by name (a mention, which Slack draws as the name,
    when the name is unknown)."""
    if channel_name:
        where = f" in #{escape(channel_name)}"
    else:
        where = f" in <#{channel}>" if channel and channel[0] in "CG" else ""
    asks = f"{mention(request.requester)} asks for your approval of *{request.id}*:"
    fingerprint = request.fingerprint
    if request.is_fleet:
        moving = [g for g in groups(fingerprint) if g.revisions]
        text = (
            f"{asks} {request.kind.value} {code(request.target)}, a fleet:"
            f" {len(members_to_run(fingerprint))} members in {len(moving)} group(s),"
            f" {len(fingerprint.revisions)} distinct revision(s). One approval covers every"
            f" member. The groups, the pre-flight by member, the SQL and the Approve button"
            f" are on {REQUEST_LINK}{where}."
        )
    else:
        text = (
            f"{asks} {request.kind.value} {code(request.target)}"
            f" {revisions_text(request.from_revisions)} → {revisions_text(request.to_revisions)}"
            f" ({len(fingerprint.revisions)} revisions). The checks, the SQL and the"
            f" Approve button are on {REQUEST_LINK}{where}."
        )
    plain = f"{request.id} needs your approval" + (f" (in #{channel_name})" if channel_name else "")
    return plain, [section(text, block_id=BlockId.SUMMARY)]


def outcome_announcement(
    outcome: RunOutcome, request: Request, offers: Sequence[WayBack] = ()
) -> Message:
    """For the ops channel: target (a fleet: its members' counts), revisions, duration,
    backup, who asked and approved."""
    headline = _headline(outcome)
    if isinstance(outcome, FleetOutcome):
        what = [
            f"*Fleet*\n{code(outcome.target)}",
            f"*Members*\n{_counts(outcome)}",
            f"*Duration*\n{format_duration(outcome.duration_s)}",
            f"*Revisions*\n{len(outcome.planned_revisions)} distinct",
        ]
    else:
        what = [
            f"*Target*\n{code(outcome.target)}",
            f"*Revisions*\n{_revision_change(outcome)}",
            f"*Duration*\n{format_duration(outcome.duration_s)}",
            f"*Backup*\n{_backup(outcome.backup)}",
            *([f"*Schema*\n{escape(outcome.schema)}"] if outcome.schema else []),
        ]
    fields = [
        *what,
        f"*Requested by*\n{mention(request.requester)}",
        f"*Approved by*\n{people(a.approver for a in request.current_approvals)}",
    ]
    blocks: list[Block] = [section(headline, fields=fields, block_id=BlockId.OUTCOME)]
    if outcome.error:
        blocks.append(context(escape(outcome.error[:2500]), block_id=BlockId.STATE))
    blocks += ways_back_buttons(request, offers)
    return _plain(headline), blocks


def outcome_note(outcome: RunOutcome, request: Request, *, for_requester: bool) -> Message:
    """For stakeholders and the requester: the outcome in two lines."""
    headline = _headline(outcome)
    change = _counts(outcome) if isinstance(outcome, FleetOutcome) else _revision_change(outcome)
    lines = [headline, f"{change} in {format_duration(outcome.duration_s)}."]
    if for_requester and outcome.state is not RequestState.SUCCEEDED:
        lines.append("The request's message has the ways back; each needs a new approval.")
    return _plain(headline), [section("\n".join(lines), block_id=BlockId.OUTCOME)]


def outcome_thread(outcome: RunOutcome) -> Message:
    """The details for the request's thread: each revision's time, checks, leftovers; a
    fleet's members by state, failures with their revision and error, the others by name."""
    took = format_duration(outcome.duration_s)
    if isinstance(outcome, FleetOutcome):
        lines = [f"*{outcome.request_id} {outcome.state.value}* after {took}: {_counts(outcome)}"]
        lines += _members_lines(outcome)
        blocks = lines_in_sections(lines, max_blocks=10)
    else:
        lines = [f"*{outcome.request_id} {outcome.state.value}* after {took}"]
        lines += _run_lines(outcome)
        blocks = lines_in_sections(lines[:THREAD_LINES], max_blocks=10)
    return f"{outcome.request_id} {outcome.state.value}: details", blocks


def _run_lines(outcome: RunOutcome) -> list[str]:
    lines = []
    if outcome.error:
        lines.append(f"Error: {escape(outcome.error)}")
    if outcome.backup:
        lines.append(f"💾 {_backup(outcome.backup)}")
    if outcome.forecast is not None:
        lines.append(score_headline(outcome.forecast))
    for applied in outcome.applied:
        lines.append(
            f"• {code(applied.revision)} {escape(applied.message)} —"
            f" {format_duration(applied.duration_s)}"
            f"{beside_forecast(outcome.forecast, applied.revision)}"
        )
    if outcome.verification:
        lines.append("*Verification*")
        lines += [f"• {escape(line)}" for line in outcome.verification]
    if outcome.leftovers:
        lines.append("*Left behind by the failed revision*")
        lines += [f"• {escape(line)}" for line in outcome.leftovers]
    if outcome.database_revisions is not None:
        lines.append(f"Database now at {revisions_text(outcome.database_revisions)}.")
    return lines


def _members_lines(outcome: FleetOutcome) -> list[str]:
    lines = [f"{escape(outcome.error)}"] if outcome.error else []
    lines += [_failed_line(member) for member in outcome.of_state(*ENDED_BADLY)]
    for state in (MemberState.SKIPPED, MemberState.SUCCEEDED, MemberState.NOT_STARTED):
        found = outcome.of_state(state)
        if found:
            names = ", ".join(code(m.name) for m in found[:NAMES_PER_STATE])
            more = len(found) - NAMES_PER_STATE
            lines.append(
                f"*{state.value.replace('_', ' ').capitalize()} ({len(found)})*: {names}"
                + (f" and {more} more" if more > 0 else "")
            )
    return lines


def interrupted_announcement(run: DeadRun, offers: Sequence[WayBack]) -> Message:
    """A run found dead at start-up: where it stopped, where the database is (a fleet's:
    each member explained), the ways back."""
    request = run.request
    if request.is_fleet:
        headline = (
            f"⚠️ *{request.id}* {request.kind.value} of the fleet {code(request.target)} was"
            " interrupted: the bot stopped while it ran."
        )
        lines = [headline, *_interrupted_members(request)]
        body = lines_in_sections(lines, max_blocks=6, block_id=BlockId.OUTCOME)
        return _plain(headline), [*body, *ways_back_buttons(request, offers)]
    held = (
        revisions_text(run.database_revisions)
        if run.database_revisions is not None
        else "_unknown (the database could not be read)_"
    )
    last = code(run.last_revision_applied) if run.last_revision_applied else "none"
    headline = (
        f"⚠️ *{request.id}* {request.kind.value} of {code(request.target)} was interrupted:"
        f" the bot stopped while it ran{f' ({escape(run.step)})' if run.step else ''}."
    )
    text = (
        f"{headline}\nLast revision applied: {last}. The database is at {held}. Nothing"
        f" resumes by itself. Requested by {mention(request.requester)}."
    )
    blocks = [section(text, block_id=BlockId.OUTCOME), *ways_back_buttons(request, offers)]
    return _plain(headline), blocks


def _interrupted_members(request: Request) -> list[str]:
    members = list(request.members.values())
    lines = []
    succeeded = sum(m.state is MemberState.SUCCEEDED for m in members)
    if succeeded:
        lines.append(f"✅ {succeeded} member(s) succeeded and stay so.")
    for member in members:
        if member.state is MemberState.INTERRUPTED:
            held = (
                revisions_text(member.database_revisions)
                if member.database_revisions is not None
                else "_unknown (its database could not be read)_"
            )
            during = f" during {escape(member.failed_step)}" if member.failed_step else ""
            lines.append(f"⚠️ {code(member.name)} was interrupted{during}; it is at {held}.")
    waiting = sum(m.state is MemberState.NOT_STARTED for m in members)
    if waiting:
        lines.append(f"⬜ {waiting} member(s) did not start.")
    lines.append(f"Nothing resumes by itself. Requested by {mention(request.requester)}.")
    return lines


def freeze_announcement(freeze: Freeze, *, lifted_by: str | None = None) -> Message:
    if lifted_by is not None:
        text = (
            f"🔓 {code(freeze.target)} was unfrozen by {mention(lifted_by)}: runs may start again."
        )
    else:
        text = (
            f"🧊 {code(freeze.target)} was frozen by {mention(freeze.by)}:"
            f" {escape(freeze.reason)}. Nothing runs on it until an approver unfreezes it."
        )
    return _plain(text), [section(text, block_id=BlockId.SUMMARY)]


def _headline(outcome: RunOutcome) -> str:
    icon = OUTCOME_ICONS.get(outcome.state, "•")
    if isinstance(outcome, FleetOutcome):
        what = f"{outcome.kind} of the fleet {code(outcome.target)} {outcome.state.value}"
        return f"{icon} *{outcome.request_id}* {what}"
    where = (
        f" at {outcome.failed_step.value}" if outcome.failed_step and not outcome.succeeded else ""
    )
    what = f"{outcome.kind} of {code(outcome.target)} {outcome.state.value}"
    return f"{icon} *{outcome.request_id}* {what}{where}"


def _revision_change(outcome: RunOutcome) -> str:
    start = revisions_text(outcome.from_revisions)
    end = (
        revisions_text(outcome.database_revisions)
        if outcome.database_revisions is not None
        else "_unknown_"
    )
    if outcome.kind == "restore":
        return f"{start} → {end} (restored)"
    return f"{start} → {end}, {len(outcome.applied)}/{len(outcome.planned_revisions)} revisions"


def _counts(outcome: FleetOutcome) -> str:
    return ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in outcome.counts.items())


def _failed_line(member: MemberOutcome) -> str:
    held = revisions_text(member.database_revisions) if member.database_revisions else "_unknown_"
    step = f" at {escape(member.failed_step)}" if member.failed_step else ""
    backup = f"; backup {code(member.backup_id)}" if member.backup_id else ""
    error = escape(clip(member.error or ""))
    return f"❌ {code(member.name)} {member.state.value}{step}: {error} (now at {held}{backup})"


def _backup(backup: dict[str, Any] | None) -> str:
    if not backup:
        return "none"
    size = format_bytes(int(backup.get("size") or 0))
    return f"{code(str(backup.get('id')))}, {size}, {escape(str(backup.get('uri')))}"


def _plain(mrkdwn: str) -> str:
    """Notification text: the headline without its formatting marks."""
    return mrkdwn.replace("*", "").replace("`", "")
