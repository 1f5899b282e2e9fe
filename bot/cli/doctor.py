"""``doctor``: check a real set-up end to end, one line each with what to fix.

The Slack half talks to the Web API (``bot.doctor``, imported when the command runs,
as ``serve`` does: the other commands load nothing of Slack's); the rest reads the
targets file, the databases, pg_dump, the backup destinations and the state.
"""

from __future__ import annotations

import os

import click

from bot.adapters.slack_settings import SlackSettings
from bot.cli.output import Output, output_option
from commands.config.targets_file import DEMO_SOURCE, Config, load_config
from commands.doctor.finding import Finding, Health, failures, ok, warn
from commands.doctor.setup import check_setup
from commands.errors import ExitCode

CHECK_WIDTH = 22
MARKS = {Health.OK: "OK", Health.WARN: "WARN", Health.FAIL: "FAIL", Health.SKIP: "SKIP"}


@click.command()
@output_option
def doctor(out: Output) -> int:
    """Check the Slack app, the targets' databases, pg_dump, backups and the state.

    One line each: the tokens (auth.test), the app's scopes, Socket Mode's token, the
    bot in the ops channel, every approver and user group, each database and the
    privileges a migration needs, pg_dump against the server, the backup destination
    (a file written and deleted) and the state. Exits 1 while anything fails.
    """
    from bot.doctor.slack_checks import check_slack  # the Web API client, for doctor only

    config = load_config()
    settings = SlackSettings.from_env(os.environ)
    findings = [
        config_finding(config),
        *check_slack(settings, config),
        *check_setup(config),
    ]
    out.say(f"migrate-bot doctor: {config.path}, Slack at {settings.api_url}")
    out.emit(findings, render_json=lambda f: [x.to_json() for x in f], render_text=doctor_text)
    return int(ExitCode.FAILED if failures(findings) else ExitCode.OK)


def config_finding(config: Config) -> Finding:
    names = ", ".join(config.targets)
    if config.path == DEMO_SOURCE:
        return warn(
            "targets file",
            f"none: the built-in demo ({names}), whose approver is the sandbox's",
            "write ./migrate-bot.toml, or point $MIGRATE_BOT_CONFIG at yours (README,"
            " Your own project)",
        )
    return ok("targets file", f"{config.path}: {len(config.targets)} target(s): {names}")


def doctor_text(findings: list[Finding]) -> str:
    lines = [finding_line(f) for f in findings]
    broken = failures(findings)
    warned = [f for f in findings if f.health is Health.WARN]
    if broken:
        lines.append(f"{len(broken)} to fix, {len(warned)} warning(s).")
    elif warned:
        lines.append(f"Ready, with {len(warned)} warning(s).")
    else:
        lines.append("Ready: every check passed.")
    return "\n".join(lines)


def finding_line(finding: Finding) -> str:
    """One line, whatever the message held (libpq's errors span several)."""
    fix = f" → {finding.fix}" if finding.fix else ""
    text = " ".join(f"{finding.summary}{fix}".split())
    return f"{MARKS[finding.health]:<5} {finding.check:<{CHECK_WIDTH}} {text}"
