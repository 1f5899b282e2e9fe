"""``migrate-bot change …`` and ``migrate-bot changes``: changes across deploys from a
terminal, and the deploy pipeline's door (``change confirm NAME PHASE``).

What is done here is recorded as the operator's OS user (``os:<user>``), or as
``deploy:WHO`` for a pipeline that says who it is with ``--by``.
"""

from __future__ import annotations

import click

from bot.cli.change_render import change_json, change_text
from bot.cli.options import operator
from bot.cli.output import Output, output_option
from commands.changes.service import Changes
from commands.config.targets_file import load_config
from commands.state.audit_log import open_audit_log


def _changes() -> Changes:
    config = load_config()
    return Changes(config, open_audit_log(config.bot.state))


@click.group()
def change() -> None:
    """Changes across deploys: start one from its file, show, confirm a deploy, check, abandon."""


@change.command("start")
@click.argument("target")
@click.argument("name")
@output_option
def start(target: str, name: str, out: Output) -> None:
    """Start change NAME (changes_dir/NAME.toml) on TARGET."""
    started = _changes().start(target, name, by=operator())
    out.emit(started, render_json=change_json, render_text=change_text)


@change.command("show")
@click.argument("ref", metavar="CHANGE")
@click.option("--target", metavar="T", help="The target, when CHANGE is in flight on several.")
@output_option
def show(ref: str, target: str | None, out: Output) -> None:
    """A change (a name in flight, or its id C-N): its phases, who did what, what it waits for."""
    out.emit(_changes().load(ref, target), render_json=change_json, render_text=change_text)


@change.command("confirm")
@click.argument("ref", metavar="CHANGE")
@click.argument("phase")
@click.option("--target", metavar="T", help="The target, when CHANGE is in flight on several.")
@click.option("--by", metavar="WHO", help="Who confirms (a deploy pipeline's run); else you.")
@output_option
def confirm(ref: str, phase: str, target: str | None, by: str | None, out: Output) -> None:
    """Say the application version of deploy PHASE (its name or number) is out.

    Refused (exit 3) when PHASE is not the current phase, saying what it waits for.
    """
    actor = f"deploy:{by}" if by else operator()
    done = _changes().confirm(ref, phase, by=actor, via="cli", target=target)
    out.emit(done, render_json=change_json, render_text=change_text)


@change.command("check")
@click.argument("ref", metavar="CHANGE")
@click.option("--target", metavar="T")
@output_option
def check(ref: str, target: str | None, out: Output) -> None:
    """Read the evidence now: a gate's conditions, a migrate phase's revision."""
    changes = _changes()
    found = changes.refresh(changes.load(ref, target).id, by=operator())
    out.emit(found, render_json=change_json, render_text=change_text)


@change.command("abandon")
@click.argument("ref", metavar="CHANGE")
@click.option("--reason", required=True, help="Why: shown on its card and in the log.")
@output_option
def abandon(ref: str, reason: str, out: Output) -> None:
    """Stop tracking a change: its later revisions are no longer held back."""
    done = _changes().abandon(ref, by=operator(), reason=reason)
    out.emit(done, render_json=change_json, render_text=change_text)


@click.command()
@click.option("--target", metavar="T", help="Only changes on this target.")
@click.option("--all", "every", is_flag=True, help="Finished and abandoned ones too.")
@output_option
def changes(target: str | None, every: bool, out: Output) -> None:
    """Changes in flight (with --all, every change), newest first."""
    found = _changes().ledger.changes(target=target, in_flight=not every)
    out.emit(
        found,
        render_json=lambda cs: [change_json(c) for c in cs],
        render_text=lambda cs: "\n\n".join(change_text(c) for c in cs) or "no change in flight",
    )
