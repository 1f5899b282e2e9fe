"""Break-glass fleet runs from the terminal: every member through the same pipeline.

As for a single target, the request is created and approved at once under
the operator's OS user and marked break-glass; the members are planned (their
pre-flight runs in each member's own run), shown, confirmed, then run in
waves by the same ``Runner`` the bot uses. Each member's end is a line; the
outcome lists every member. Exit 1 when any member failed.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import click

from bot.cli import fleet_render as render
from bot.cli.options import operator
from bot.cli.output import Output
from bot.cli.run_ending import RunEnding
from commands.config.targets_file import Config
from commands.errors import ExitCode
from commands.fleet.planning import FleetAsk, FleetPlan, plan_fleet
from commands.fleet.set_plan import members_to_run
from commands.fleet.waves import describe_waves
from commands.pipeline import RunContext, RunThreads
from commands.pipeline.progress import FleetOutcome, FleetUpdate, FleetUpdateKind
from commands.requests import NothingToDoError, open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import MemberState, RequestKind, RequestState


@dataclass
class _Watch(RunEnding):
    """What the run reports back to the waiting terminal."""

    out: Output
    total: int
    ended: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, update: FleetUpdate) -> None:
        line = render.update_text(update)
        with self.lock:
            if update.kind is FleetUpdateKind.MEMBER_ENDED:
                self.ended += 1
                line = f"{line}  {render.progress_bar(self.ended, self.total)}"
            if line is not None:
                self.out.say(line, err=update.kind is FleetUpdateKind.MEMBER_PROGRESS)


def fleet_break_glass_run(
    config: Config,
    *,
    kind: RequestKind,
    target: str,
    goal: str | None,
    reason: str,
    yes: bool,
    out: Output,
) -> int:
    """Plan every member, confirm, record and run; the exit code (refusals raise)."""
    store = open_audit_log(config.bot.state)
    requests = open_requests(config)
    context = RunContext(config=config, requests=requests, store=store)
    try:
        planned = plan_fleet(config, target=target, ask=FleetAsk(kind, goal), checks=False)
    except NothingToDoError as nothing:
        out.emit(nothing, render_json=lambda e: {"nothing_to_do": str(e)}, render_text=str)
        return int(ExitCode.OK)
    _confirm(planned, yes=yes, out=out)
    request = requests.create_break_glass(
        kind=kind,
        target=target,
        operator=operator(),
        fingerprint=planned.fingerprint,
        goal=goal,
        reason=reason,
    )
    out.say(_header(request.id, config, planned))
    watch = _Watch(out, total=len(members_to_run(planned.fingerprint)))
    worker = RunThreads(
        context,
        on_update=watch.update,  # type: ignore[arg-type]  # a fleet's updates
        on_outcome=watch.finished,
        on_refused=watch.refused,
    )
    try:
        worker.submit(request.id, target)
        while not watch.done.wait(0.2):
            pass
    except KeyboardInterrupt:
        click.echo(
            "stopping: no member starts; those running stop at a revision boundary…", err=True
        )
        worker.cancel(request.id)
        watch.done.wait()
    finally:
        worker.shutdown()
    if watch.refusal is not None:
        raise watch.refusal
    outcome = watch.outcome
    assert isinstance(outcome, FleetOutcome)
    out.emit(outcome, render_json=render.outcome_json, render_text=render.outcome_text)
    failed = outcome.of_state(MemberState.FAILED, MemberState.ABORTED, MemberState.INTERRUPTED)
    ok = outcome.state is RequestState.SUCCEEDED and not failed
    return int(ExitCode.OK if ok else ExitCode.FAILED)


def _header(request_id: str, config: Config, planned: FleetPlan) -> str:
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


def _confirm(planned: FleetPlan, *, yes: bool, out: Output) -> None:
    if yes:
        return
    if out.as_json or not sys.stdin.isatty():
        raise click.UsageError("add --yes to run without a prompt")
    click.echo(render.plan_text(planned, show_sql=False))
    click.confirm("Run it now, as a break-glass request under your OS user?", abort=True)
