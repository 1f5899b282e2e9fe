"""Break-glass runs from the terminal: the same pipeline as Slack, approved by the operator.

For when Slack is down. The request is created and approved at once under
the operator's OS user (``os:<user>``), marked break-glass in the audit log,
and run by the same run threads and pipeline: pre-flight, backup, timeouts,
lock retries, the run lock, verification and all. A fleet's members are
planned (their pre-flight runs in each member's own run), shown, confirmed,
then run in waves; each member's end is a line, the outcome lists every
member, and the exit is 1 when any member failed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click

from audit.store import EventStore
from bot.cli import run_render as render
from bot.cli.check_render import findings_text
from bot.cli.options import operator
from bot.cli.output import Output
from bot.cli.render import set_plan_text
from bot.cli.run_ending import RunEnding
from commands.config.targets_file import Config
from commands.errors import ExitCode
from commands.fleet.planning import FleetAsk, FleetPlan, plan_fleet
from commands.fleet.set_plan import members_to_run
from commands.fleet.waves import describe_waves
from commands.migration.runtime.runner import AlembicRunner, AlembicSession
from commands.migration.script.fingerprint import PlanFingerprint
from commands.pipeline import RunContext, RunOutcome, RunThreads
from commands.pipeline.plans import plan_request
from commands.pipeline.progress import (
    FleetOutcome,
    FleetUpdate,
    FleetUpdateKind,
    RunStep,
    Update,
    UpdateKind,
)
from commands.requests import NothingToDoError, Request, RequestService, open_requests
from commands.schema.replay_ahead import ReplayAhead
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind, MemberState, RequestKind, RequestState
from commands.targets import TargetHandle, open_target


@dataclass
class _Terminal(RunEnding):
    """The waiting terminal: the run's news as lines (a fleet's members' ends, with a bar
    over the members), then its outcome."""

    out: Output
    store: EventStore
    members: int = 0  # the members it follows (none: one database)
    ended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # requests whose pre-flight findings were printed: a run refused there ends with a
    # second pre-flight update (the run's own end), which printed them twice
    findings_shown: set[str] = field(default_factory=set)

    def update(self, update: Update) -> None:
        line = render.update_text(update)
        if isinstance(update, FleetUpdate):
            with self.lock:
                if update.kind is FleetUpdateKind.MEMBER_ENDED:
                    self.ended += 1
                    line = f"{line}  {render.progress_bar(self.ended, self.members)}"
                if line is not None:
                    self.out.say(line, err=update.kind is FleetUpdateKind.MEMBER_PROGRESS)
            return
        if line is not None:
            self.out.say(line, err=update.kind == "progress")
        ended = update.kind in (UpdateKind.SUCCEEDED, UpdateKind.FAILED)
        if (
            update.step is RunStep.PREFLIGHT
            and ended
            and update.request_id not in self.findings_shown
        ):
            self.findings_shown.add(update.request_id)
            findings = findings_text(preflight_results(self.store, update.request_id))
            if findings:
                self.out.say(findings)


@dataclass(frozen=True)
class Ask:
    """What the operator asks of a target, and how."""

    kind: RequestKind
    goal: str | None
    reason: str
    yes: bool
    out: Output


def break_glass_run(
    config: Config,
    *,
    kind: RequestKind,
    target: str,
    goal: str | None,
    reason: str,
    yes: bool,
    out: Output,
) -> int:
    """Plan, confirm, record and run; the exit code (refusals raise)."""
    ask = Ask(kind, goal, reason, yes, out)
    if config.target(target).is_fleet:
        return members_run(config, target, ask)
    handle = open_target(config.target(target))
    with AlembicRunner.for_target(handle).session() as session:  # the run goes on in it
        return database_run(config, handle, session, ask)


def database_run(
    config: Config,
    handle: TargetHandle,
    session: AlembicSession,
    ask: Ask,
    *,
    ahead: ReplayAhead | None = None,
) -> int:
    """Plan in ``session``, confirm, record and run one database; ``ahead`` replays the
    history for the drift check while the run is confirmed and started."""
    kind, goal, out = ask.kind, ask.goal, ask.out
    store = open_audit_log(config.bot.state)
    requests = open_requests(config)
    planned = plan_request(
        handle, session, kind=kind, goal=goal or "head", store=store, with_sql=False
    )
    if ahead is not None and planned.state is not None and not planned.plan.is_empty:
        ahead.replay(planned.state)
    if kind is not RequestKind.RESTORE and planned.plan.is_empty:
        out.emit(
            planned,
            render_json=render.nothing_to_do_json,
            render_text=render.nothing_to_do_text,
        )
        return int(ExitCode.OK)
    _confirm(render.preview_text(planned, kind), yes=ask.yes, out=out)
    request = _create(requests, ask, target=handle.name, fingerprint=planned.fingerprint)
    out.say(render.header_text(request.id, kind, planned))
    terminal = _Terminal(out=out, store=store)
    context = RunContext(config=config, requests=requests, store=store)
    outcome = _follow(context, request, terminal, session=session)
    period = handle.config.watch.period
    if outcome.succeeded and period is not None and kind is not RequestKind.RESTORE:
        out.say(
            f"watching {handle.name} for {period:g} s: a running `migrate-bot serve` posts the"
            f" summary, or `migrate-bot watch {request.id}` keeps it here"
        )
    return int(ExitCode.OK if outcome.succeeded else ExitCode.FAILED)


def members_run(config: Config, target: str, ask: Ask) -> int:
    """Plan a fleet's members, confirm, record and run them in waves."""
    kind, goal, out = ask.kind, ask.goal, ask.out
    store = open_audit_log(config.bot.state)
    requests = open_requests(config)
    try:
        planned = plan_fleet(config, target=target, ask=FleetAsk(kind, goal), checks=False)
    except NothingToDoError as nothing:
        out.emit(nothing, render_json=lambda e: {"nothing_to_do": str(e)}, render_text=str)
        return int(ExitCode.OK)
    _confirm(set_plan_text(planned, show_sql=False), yes=ask.yes, out=out)
    request = _create(requests, ask, target=target, fingerprint=planned.fingerprint)
    out.say(_members_header(request.id, config, planned))
    members = len(members_to_run(planned.fingerprint))
    terminal = _Terminal(out=out, store=store, members=members)
    outcome = _follow(RunContext(config=config, requests=requests, store=store), request, terminal)
    assert isinstance(outcome, FleetOutcome)
    failed = outcome.of_state(MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)
    ok = outcome.state is RequestState.SUCCEEDED and not failed
    return int(ExitCode.OK if ok else ExitCode.FAILED)


def _create(
    requests: RequestService, ask: Ask, *, target: str, fingerprint: PlanFingerprint
) -> Request:
    return requests.create_break_glass(
        kind=ask.kind,
        target=target,
        operator=operator(),
        fingerprint=fingerprint,
        goal=ask.goal,
        reason=ask.reason,
    )


def _follow(
    context: RunContext,
    request: Request,
    terminal: _Terminal,
    *,
    session: AlembicSession | None = None,
) -> RunOutcome:
    """Run ``request`` on this process's run threads, printing its news, to its outcome
    (printed too); Ctrl-C stops it. Raises the run's refusal."""
    threads = RunThreads(
        context,
        on_update=terminal.update,
        on_outcome=terminal.finished,
        on_refused=terminal.refused,
    )
    try:
        threads.start(request.id, request.target, session=session)
        while not terminal.done.wait(0.2):  # a wait with a timeout lets Ctrl-C through
            pass
    except KeyboardInterrupt:
        stopping = (
            "no member starts; those running stop at a revision boundary"
            if terminal.members
            else "the revision in flight is rolled back"
        )
        click.echo(f"stopping: {stopping}…", err=True)
        threads.cancel(request.id)
        terminal.done.wait()
    finally:
        threads.shutdown()
    if terminal.refusal is not None:
        raise terminal.refusal
    assert terminal.outcome is not None
    terminal.out.emit(
        terminal.outcome, render_json=render.outcome_json, render_text=render.outcome_text
    )
    return terminal.outcome


def preflight_results(store: EventStore, request_id: str) -> list[Mapping[str, Any]]:
    """The checks of the request's latest pre-flight, as the audit log recorded them."""
    events = store.events(request_id=request_id, kinds=[EventKind.CHECK_RESULT])
    checks = [e.data for e in events if e.data.get("phase") == "preflight"]
    latest = checks[-1].get("started_at") if checks else None
    return [c for c in checks if c.get("started_at") == latest]


def _members_header(request_id: str, config: Config, planned: FleetPlan) -> str:
    fingerprint = planned.fingerprint
    settings = config.target(fingerprint.target).fleet
    assert settings is not None
    running = len(members_to_run(fingerprint))
    return (
        f"{request_id} (break-glass) {fingerprint.action} {fingerprint.target}:"
        f" {running} of {len(fingerprint.members)} member(s), in waves of"
        f" {describe_waves(settings.waves, running)}; {settings.concurrency} at a time;"
        f" no new member after {settings.max_failures} failure(s)"
    )


def _confirm(preview: str, *, yes: bool, out: Output) -> None:
    if yes:
        return
    if out.as_json or not sys.stdin.isatty():
        raise click.UsageError("add --yes to run without a prompt")
    click.echo(preview)
    click.confirm("Run it now, as a break-glass request under your OS user?", abort=True)
