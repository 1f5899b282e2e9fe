"""Break-glass runs from the terminal: the same pipeline as Slack, approved by the operator.

For when Slack is down. The request is created and approved at once under
the operator's OS user (``os:<user>``), marked break-glass in the audit log,
and run by the same worker and pipeline: pre-flight, backup, timeouts, lock
retries, the run lock, verification and all.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import click

from bot.cli import run_render as render
from bot.cli.options import operator
from bot.cli.output import Output
from commands.config.targets_file import Config
from commands.errors import ExitCode, MigrateBotError
from commands.migration.runtime.runner import AlembicRunner
from commands.pipeline import Pipeline, RunContext, RunOutcome, RunUpdate, RunWorker
from commands.pipeline.plans import RequestPlan, plan_request
from commands.requests import open_requests
from commands.state.audit_log import open_audit_log
from commands.state.vocabulary import RequestKind
from commands.targets import open_target


@dataclass
class _Watch:
    """What the worker reports back to the waiting terminal."""

    out: Output
    outcome: RunOutcome | None = None
    refusal: MigrateBotError | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def update(self, update: RunUpdate) -> None:
        line = render.update_text(update)
        if line is not None:
            self.out.say(line, err=update.kind == "progress")

    def finished(self, outcome: RunOutcome) -> None:
        self.outcome = outcome
        self.done.set()

    def refused(self, _request_id: str, refusal: MigrateBotError) -> None:
        self.refusal = refusal
        self.done.set()


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
    store = open_audit_log(config.bot.state)
    requests = open_requests(config)
    handle = open_target(config.target(target))
    with AlembicRunner.for_target(handle).session() as session:
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
    request = requests.create_break_glass(
        kind=kind,
        target=target,
        operator=operator(),
        fingerprint=planned.fingerprint,
        goal=goal,
        reason=reason,
    )
    out.say(render.header_text(request.id, kind, planned))
    watch = _Watch(out)
    worker = RunWorker(
        Pipeline(RunContext(config=config, requests=requests, store=store)),
        on_update=watch.update,
        on_outcome=watch.finished,
        on_refused=watch.refused,
    )
    try:
        worker.submit(request.id, target)
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
    return int(ExitCode.OK if watch.outcome.succeeded else ExitCode.FAILED)


def _confirm(planned: RequestPlan, kind: RequestKind, *, yes: bool, out: Output) -> None:
    if yes:
        return
    if out.as_json or not sys.stdin.isatty():
        raise click.UsageError("add --yes to run without a prompt")
    click.echo(render.preview_text(planned, kind))
    click.confirm("Run it now, as a break-glass request under your OS user?", abort=True)
