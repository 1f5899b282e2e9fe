"""Smaller parts of the Slack front: modes and settings, serve without Slack, SQL as a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.slack_settings import Mode, SlackSettings, SlackSettingsError
from bot.cli import main
from bot.flows.plan_cache import RecentPlans
from bot.invocation import Invocation
from bot.listeners.context import CommandContext
from bot.listeners.sql import show_sql
from bot.local_slack.server import LocalSlackServer
from bot.local_slack.workspace import Workspace
from bot.slack_api.replies import Replier, web_client
from commands.config.targets_file import demo_config
from commands.errors import ExitCode
from commands.migration.script.plan import Plan
from commands.migration.script.revision_graph import Direction, Revision
from commands.targets import open_target


@pytest.mark.parametrize(
    ("environ", "mode"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1"}, Mode.SOCKET),
        ({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1"}, Mode.HTTP),
        ({}, Mode.NO_SLACK),
    ],
)
def test_the_credentials_choose_the_mode(environ: dict[str, str], mode: Mode) -> None:
    settings = SlackSettings.from_env(environ)
    assert settings.mode is mode
    settings.require(mode)


def test_missing_or_wrong_credentials_are_named() -> None:
    with pytest.raises(SlackSettingsError, match=r"\$SLACK_SIGNING_SECRET"):
        SlackSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}).require(Mode.HTTP)
    with pytest.raises(SlackSettingsError, match="app-level token"):
        SlackSettings.from_env({"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "x"}).require(
            Mode.SOCKET
        )
    with pytest.raises(SlackSettingsError, match="http"):
        SlackSettings.from_env({"SLACK_API_URL": "file:///etc/passwd"})
    assert SlackSettings.from_env({"SLACK_API_URL": "http://h:1/api"}).api_url == "http://h:1/api/"


def test_serve_without_credentials_beside_a_targets_file_fails_clearly(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the demo falls back to the sandbox: a server that lost its Slack variables
    must not quietly serve a page that approves migrations of real targets."""
    for name in ("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "no Slack credentials" in err and str(config_file) in err
    assert "--mode sandbox" in err


def test_a_plan_too_long_for_a_modal_is_sent_as_a_file_in_a_dm() -> None:
    revisions = tuple(Revision(f"{n:012x}", (), (), (), "big", "/x.py") for n in range(40))
    plan = Plan(
        "demo",
        Direction.UP,
        (),
        (revisions[-1].id,),
        revisions,
        {r.id: "UPDATE t SET c = 1;\n" * 800 for r in revisions},
    )
    plans = RecentPlans()
    with LocalSlackServer(Workspace(users={"U0ALICE": "alice"}), bot_token="xoxb-t") as slack:
        invocation = Invocation("U0ALICE", "C0DEV", trigger_id=slack.workspace.new_trigger_id())
        reply = Replier(web_client("xoxb-t", slack.api_url), invocation)
        ctx = CommandContext(invocation, reply, demo_config(), plans, open_target)
        show_sql(plans.put(plan), ctx)
        (opened,) = slack.calls("views.open")
        assert "demo-plan.sql" in str(opened.args["view"])
        (stored,) = slack.workspace.files.values()
        assert stored["content"].decode().count("UPDATE t SET c = 1;") == 40 * 800
        assert slack.workspace.messages["D0ALICE"]
