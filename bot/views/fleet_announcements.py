"""What the bot says about a fleet outside its request message: the approvers' direct
message, the thread as members end (failures at once, the rest wave by wave), the outcome
for ops, stakeholders and the requester, and a fleet run found dead at start-up. Pure."""

from __future__ import annotations

import statistics

from bot.views.announcements import OUTCOME_ICONS, REQUEST_LINK, Message
from bot.views.blocks import Block, code, context, escape, lines_in_sections, section
from bot.views.fleet_request import fleet_ways_back_buttons
from bot.views.fleet_run import counts_line
from bot.views.ids import BlockId
from bot.views.people import mention, people
from bot.views.status import revisions_text
from commands.fleet.set_plan import groups, members_to_run
from commands.pipeline.progress import FleetOutcome, FleetUpdate, FleetUpdateKind, MemberOutcome
from commands.pipeline.ways_back import FleetOffer
from commands.requests.model import Request
from commands.state.vocabulary import MemberState, RequestState
from commands.units import format_duration

NAMES_PER_STATE = 30
ERROR_CHARS = 400
ENDED_BADLY = (MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)


def fleet_approval_wanted(
    request: Request, channel: str | None, channel_name: str | None
) -> Message:
    """An approver's direct message for a fleet request: how many members, how many groups."""
    where = (
        f" in #{escape(channel_name)}"
        if channel_name
        else (f" in <#{channel}>" if channel and channel[0] in "CG" else "")
    )
    fingerprint = request.fingerprint
    moving = [g for g in groups(fingerprint) if g.revisions]
    text = (
        f"{mention(request.requester)} asks for your approval of *{request.id}*:"
        f" {request.kind.value} {code(request.target)}, a fleet:"
        f" {len(members_to_run(fingerprint))} members in {len(moving)} group(s),"
        f" {len(fingerprint.revisions)} distinct revision(s). One approval covers every"
        f" member. The groups, the pre-flight by member, the SQL and the Approve button are"
        f" on {REQUEST_LINK}{where}."
    )
    plain = f"{request.id} needs your approval" + (f" (in #{channel_name})" if channel_name else "")
    return plain, [section(text, block_id=BlockId.SUMMARY)]


def member_thread_line(update: FleetUpdate) -> str | None:
    """The thread's line for a member that ended badly or was skipped (at once), or for a
    run that stops starting members; ``None`` for what the live status shows alone."""
    if update.kind is FleetUpdateKind.STOPPING:
        return f"⏹️ {escape(update.message)}; members already running finish."
    if update.kind is not FleetUpdateKind.MEMBER_ENDED or update.member is None:
        return None
    state = update.state
    error = escape(_clip(str(update.data.get("error") or "")))
    step = update.data.get("failed_step")
    at = f" at {escape(str(step))}" if step else ""
    backup = update.data.get("backup_id")
    kept = f" Backup {code(str(backup))}." if backup else ""
    if state in ENDED_BADLY:
        icon = "❌" if state is MemberState.FAILED else "🛑"
        return f"{icon} {code(update.member)} {state.value}{at} (wave {update.wave}): {error}{kept}"
    if state is MemberState.SKIPPED:
        return f"↷ {code(update.member)} skipped (wave {update.wave}): {error}"
    return None


def wave_summary(request: Request, wave: int, waves_total: int) -> str:
    """One line per wave: its counts, and for the members that succeeded the median and the
    slowest time."""
    members = [m for m in request.members.values() if m.wave == wave]
    counted: dict[MemberState, int] = {}
    for member in members:
        counted[member.state] = counted.get(member.state, 0) + 1
    line = f"🌊 *Wave {wave} of {waves_total}* done: {counts_line(counted) or 'no member ran'}"
    timed = [
        (m.duration_s(m.finished_at), m.name)
        for m in members
        if m.state is MemberState.SUCCEEDED and m.finished_at is not None
    ]
    durations = [(seconds, name) for seconds, name in timed if seconds is not None]
    if durations:
        median = statistics.median(seconds for seconds, _ in durations)
        slowest = max(durations)
        line += (
            f" · median {format_duration(median)}, slowest {code(slowest[1])}"
            f" {format_duration(slowest[0])}"
        )
    return line


def fleet_outcome_announcement(
    outcome: FleetOutcome, request: Request, offers: tuple[FleetOffer, ...] = ()
) -> Message:
    """For the ops channel: the fleet, its members' counts, duration, who asked and approved."""
    headline = _headline(outcome)
    fields = [
        f"*Fleet*\n{code(outcome.target)}",
        f"*Members*\n{_counts(outcome)}",
        f"*Duration*\n{format_duration(outcome.duration_s)}",
        f"*Revisions*\n{len(outcome.planned_revisions)} distinct",
        f"*Requested by*\n{mention(request.requester)}",
        f"*Approved by*\n{people(a.approver for a in request.current_approvals)}",
    ]
    blocks: list[Block] = [section(headline, fields=fields, block_id=BlockId.OUTCOME)]
    if outcome.error:
        blocks.append(context(escape(outcome.error[:2500]), block_id=BlockId.STATE))
    blocks += fleet_ways_back_buttons(request, offers)
    return _plain(headline), blocks


def fleet_outcome_note(outcome: FleetOutcome, request: Request, *, for_requester: bool) -> Message:
    headline = _headline(outcome)
    lines = [headline, f"{_counts(outcome)} in {format_duration(outcome.duration_s)}."]
    if for_requester and outcome.state is not RequestState.SUCCEEDED:
        lines.append("The request's message has the ways back; each needs a new approval.")
    return _plain(headline), [section("\n".join(lines), block_id=BlockId.OUTCOME)]


def fleet_outcome_thread(outcome: FleetOutcome) -> Message:
    """The run's end in the thread: every member by state; failures with their revision and
    error, the others by name."""
    lines = [
        f"*{outcome.request_id} {outcome.state.value}* after"
        f" {format_duration(outcome.duration_s)}: {_counts(outcome)}"
    ]
    if outcome.error:
        lines.append(f"{escape(outcome.error)}")
    for member in outcome.of_state(*ENDED_BADLY):
        lines.append(_failed_line(member))
    for state in (MemberState.SKIPPED, MemberState.SUCCEEDED, MemberState.NOT_STARTED):
        found = outcome.of_state(state)
        if found:
            names = ", ".join(code(m.name) for m in found[:NAMES_PER_STATE])
            more = len(found) - NAMES_PER_STATE
            lines.append(
                f"*{state.value.replace('_', ' ').capitalize()} ({len(found)})*: {names}"
                + (f" and {more} more" if more > 0 else "")
            )
    blocks = lines_in_sections(lines, max_blocks=10)
    return f"{outcome.request_id} {outcome.state.value}: details", blocks


def fleet_interrupted_announcement(request: Request, offers: tuple[FleetOffer, ...]) -> Message:
    """A fleet run found dead at start-up: each member explained, the ways back."""
    members = list(request.members.values())
    headline = (
        f"⚠️ *{request.id}* {request.kind.value} of the fleet {code(request.target)} was"
        " interrupted: the bot stopped while it ran."
    )
    lines = [headline]
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
    blocks = [
        *lines_in_sections(lines, max_blocks=6, block_id=BlockId.OUTCOME),
        *fleet_ways_back_buttons(request, offers),
    ]
    return _plain(headline), blocks


def _failed_line(member: MemberOutcome) -> str:
    held = revisions_text(member.database_revisions) if member.database_revisions else "_unknown_"
    step = f" at {escape(member.failed_step)}" if member.failed_step else ""
    backup = f"; backup {code(member.backup_id)}" if member.backup_id else ""
    error = escape(_clip(member.error or ""))
    return f"❌ {code(member.name)} {member.state.value}{step}: {error} (now at {held}{backup})"


def _headline(outcome: FleetOutcome) -> str:
    icon = OUTCOME_ICONS.get(outcome.state, "•")
    return (
        f"{icon} *{outcome.request_id}* {outcome.kind} of the fleet {code(outcome.target)}"
        f" {outcome.state.value}"
    )


def _counts(outcome: FleetOutcome) -> str:
    return ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in outcome.counts.items())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _plain(mrkdwn: str) -> str:
    return mrkdwn.replace("*", "").replace("`", "")
