"""Break-glass runs from the terminal: the same pipeline as Slack, approved by the operator.

For when Slack is down. The request is created and approved at once under
the operator's OS user (``os:<user>``), marked break-glass in the audit log,
and run by the same worker and pipeline: pre-flight, backup, timeouts, lock
retries, the run lock, verification and all.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import click

from audit.store import EventStore
from bot.cli import run_render as render
from bot.cli.check_render import findings_text
from bot.cli.fleet_runs import fleet_break_glass_run
from bot.cli.options import operator
from bot.cli.output import Output
from bot.cli.run_ending import RunEnding
from commands.config.targets_file import Config
from commands.errors import ExitCode
from commands.migration.runtime.runner import AlembicRunner, AlembicSession
from commands.pipeline import RunContext, RunThreads, RunUpdate
from commands.pipeline.plans import RequestPlan, plan_request
from commands.pipeline.progress import RunStep, UpdateKind
from commands.requests import open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import EventKind, RequestKind
from commands.targets import TargetHandle, open_target


@dataclass
class _Watch(RunEnding):
    """What the worker reports back to the waiting terminal."""

    out: Output
    store: EventStore

    def update(self, update: RunUpdate) -> None:
        line = render.update_text(update)
        if line is not None:
            self.out.say(line, err=update.kind == "progress")
        ended = update.kind in (UpdateKind.SUCCEEDED, UpdateKind.FAILED)
        if update.step is RunStep.PREFLIGHT and ended:
            findings = findings_text(preflight_results(self.store, update.request_id))
            if findings:
                self.out.say(findings)


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
    """Plan, confirm, record and run; the exit code (refusals raise). A fleet's members
    each run (``fleet_break_glass_run``)."""
    if config.target(target).is_fleet:
        return fleet_break_glass_run(
            config, kind=kind, target=target, goal=goal, reason=reason, yes=yes, out=out
        )
    handle = open_target(config.target(target))
    with AlembicRunner.for_target(handle).session() as session:  # the run goes on in it
        return _plan_and_run(
            config, handle, session, kind=kind, goal=goal, reason=reason, yes=yes, out=out
        )


def _plan_and_run(
    config: Config,
    handle: TargetHandle,
    session: AlembicSession,
    *,
    kind: RequestKind,
    goal: str | None,
    reason: str,
    yes: bool,
    out: Output,
) -> int:
    store = open_audit_log(config.bot.state)
    requests = open_requests(config)
    planned = plan_request(
        handle, session, kind=kind, goal=goal or "head", store=store, with_sql=False
    )
    if kind is not RequestKind.RESTORE and planned.plan.is_empty:
        out.emit(
            planned,
            render_json=render.nothing_to_do_json,
            render_text=render.nothing_to_do_text,
        )
        return int(ExitCode.OK)
    _confirm(planned, kind, yes=yes, out=out)
    target = handle.name
    request = requests.create_break_glass(
        kind=kind,
        target=target,
        operator=operator(),
        fingerprint=planned.fingerprint,
        goal=goal,
        reason=reason,
    )
    out.say(render.header_text(request.id, kind, planned))
    watch = _Watch(out, store)
    worker = RunThreads(
        RunContext(config=config, requests=requests, store=store),
        on_update=watch.update,
        on_outcome=watch.finished,
        on_refused=watch.refused,
    )
    try:
        worker.submit(request.id, target, session=session)
        while not watch.done.wait(0.2):
            pass
    except KeyboardInterrupt:
        click.echo("stopping: the revision in flight is rolled back…", err=True)
        worker.cancel(request.id)
        watch.done.wait()
    finally:
        worker.shutdown()
    if watch.refusal is not None:
        raise watch.refusal
    assert watch.outcome is not None
    out.emit(watch.outcome, render_json=render.outcome_json, render_text=render.outcome_text)
    period = handle.config.watch.period
    if watch.outcome.succeeded and period is not None and kind is not RequestKind.RESTORE:
        out.say(
            f"watching {target} for {period:g} s: a running `migrate-bot serve` posts the"
            f" summary, or `migrate-bot watch {request.id}` keeps it here"
        )
    return int(ExitCode.OK if watch.outcome.succeeded else ExitCode.FAILED)


def preflight_results(store: EventStore, request_id: str) -> list[dict]:
    """The checks of the request's latest pre-flight, as the audit log recorded them."""
    events = store.events(request_id=request_id, kinds=[EventKind.CHECK_RESULT])
    checks = [e.data for e in events if e.data.get("phase") == "preflight"]
    latest = checks[-1].get("started_at") if checks else None
    return [c for c in checks if c.get("started_at") == latest]


def _confirm(planned: RequestPlan, kind: RequestKind, *, yes: bool, out: Output) -> None:
    if yes:
        return
    if out.as_json or not sys.stdin.isatty():
        raise click.UsageError("add --yes to run without a prompt")
    click.echo(render.preview_text(planned, kind))
    click.confirm("Run it now, as a break-glass request under your OS user?", abort=True)
