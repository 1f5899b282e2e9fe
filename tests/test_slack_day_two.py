"""What a team meets once the bot runs for real: the App Home tab, the approver's direct
message that links to the request, Reject's reason, and Prometheus metrics at
``GET /metrics``. The real Bolt app over real HTTP, the local Slack server, a real
PostgreSQL (``flow_bot``)."""

from __future__ import annotations

import json
import re
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.local_slack.faults import Fault
from bot.local_slack.workspace import PERMALINK_BASE, Workspace
from bot.views import limits
from bot.views.ids import ActionId
from commands.config.targets_file import BUNDLED_MIGRATIONS, Config, parse_config
from commands.postgres.database_url import DatabaseUrl
from commands.state.people import known_names
from commands.state.vocabulary import RequestState
from tests.support.flow_bot import FlowBot, flow_bot
from tests.support.flow_messages import (
    ALICE,
    BOB,
    DEV,
    EVE,
    OPS,
    ask,
    dm_texts,
    home_of,
    top_level,
)
from tests.support.polling import wait_for

QA = "C0QA"  # a channel whose name Slack will not tell (the fault below)


def day_two_config(tmp: Path) -> Config:
    text = textwrap.dedent(
        f"""
        [bot]
        state_path = "state.sqlite3"
        ops_channel = "{OPS}"

        [targets.app]
        database_url_env = "APP_DATABASE_URL"
        script_location = "{BUNDLED_MIGRATIONS.as_posix()}"
        approvers = ["U0BOB"]
        checklist = []
        backup = "file://backups"
        windows = ["daily 02:00-04:00 UTC"]
        """
    )
    return parse_config(text, source="day-two.toml", base=tmp)


@pytest.fixture(scope="module")
def bot(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowBot]:
    workspace = Workspace(
        users={ALICE: "alice", BOB: "bob", EVE: "eve"},
        channels={DEV: "dev", OPS: "ops"},
    )
    config = day_two_config(tmp_path_factory.mktemp("day-two"))
    with flow_bot(pg_server, config, ["app"], workspace) as running:
        yield running


def text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def home_click(bot: FlowBot, view: dict[str, Any], action_id: str, value: str, user: str) -> int:
    """A click on the home tab's ``action_id`` carrying ``value``, as Slack sends it."""
    block = next(
        b
        for b in view["blocks"]
        if b["type"] == "actions"
        and any(e.get("action_id") == action_id and e.get("value") == value for e in b["elements"])
    )
    trigger_id, _ = bot.sender.mint(DEV, user)
    home = bot.slack.workspace.home(user)
    assert home is not None
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": user},
        "container": {"type": "view", "view_id": home["id"]},
        "view": home,
        "trigger_id": trigger_id,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "value": value,
                "block_id": block["block_id"],
            }
        ],
    }
    return bot.sender.post(urlencode({"payload": json.dumps(payload)}).encode())[0]


def scrape(bot: FlowBot) -> str:
    with urllib.request.urlopen(f"{bot.url}/metrics", timeout=30) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        return answer.read().decode()


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of the sample ``name{labels}`` in the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        found = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if found and ",".join(sorted((found.group(1) or "").split(","))) == wanted:
            return float(found.group(2))
    return 0.0


def test_the_approver_is_told_with_a_link_to_the_request_named_by_its_channel(
    bot: FlowBot,
) -> None:
    message, request_id = ask(bot, "upgrade app")
    dm = wait_for(lambda: [t for t in dm_texts(bot, BOB) if request_id in t])[-1]
    permalink = f"{PERMALINK_BASE}/{DEV}/p{message.ts.replace('.', '')}"
    assert f"<{permalink}|the request> in #dev." in dm
    assert DEV not in dm.replace(permalink, "")  # the channel by name, never its id
    assert bot.slack.calls("chat.getPermalink")[-1].args["message_ts"] == message.ts
    # the name Slack gave the requester is kept for the terminal (`migrate-bot audit`)
    assert known_names(bot.config.bot.state)[ALICE] == "alice"
    bot.runtime.flow.cancel(request_id, user=ALICE)


def test_the_home_tab_shows_what_waits_for_you_and_approves_from_there(bot: FlowBot) -> None:
    _, request_id = ask(bot, "upgrade app")
    home = home_of(bot, BOB)
    assert limits.problems(home["blocks"]) == [] and home["type"] == "home"
    shown = text(home)
    assert "Waiting for your approval (1)" in shown and f"*{request_id}*" in shown
    pending = len(list((BUNDLED_MIGRATIONS / "versions").glob("*.py")))  # all, from base
    at_base = "`app` · at _base (no revision applied)_"
    assert f"{at_base} · ⏳ {pending} pending · 🗓️ next window *" in shown
    assert request_id not in text(home_of(bot, EVE)).split("Your requests")[0]  # not an approver
    mine = text(home_of(bot, ALICE))
    assert "Waiting for your approval (0)" in mine and f"*{request_id}*" in mine.split("Targets")[0]

    publishes = len(bot.slack.calls("views.publish"))
    assert home_click(bot, home, ActionId.APPROVE, request_id, BOB) == 200
    after = wait_for(
        lambda: [
            c for c in bot.slack.calls("views.publish")[publishes:] if c.args["user_id"] == BOB
        ]
    )[-1].args["view"]
    after = json.loads(after) if isinstance(after, str) else after
    assert f"You approved {request_id}" in text(after)
    assert "Waiting for your approval (0)" in text(after)
    done = wait_for(lambda: (r := bot.request(request_id)).state.is_final and r, timeout=240)
    assert done.state is RequestState.SUCCEEDED
    assert f"✅ *{request_id}* upgrade `app` succeeded" in text(home_of(bot, ALICE))


def test_metrics_count_requests_runs_backups_and_slack_errors(bot: FlowBot) -> None:
    before = scrape(bot)
    assert sample(before, "migrate_bot_requests_total", kind="upgrade", outcome="succeeded") >= 1
    assert sample(before, "migrate_bot_revision_duration_seconds_count", target="app") >= 6
    assert (
        sample(
            before, "migrate_bot_run_duration_seconds_count", kind="upgrade", outcome="succeeded"
        )
        >= 1
    )
    assert sample(before, "migrate_bot_backup_duration_seconds_count", target="app") >= 1
    assert 0 < sample(before, "migrate_bot_last_backup_age_seconds", target="app") < 3600
    assert "migrate_bot_outbox_depth" in before and "process_resident_memory_bytes" in before
    cancelled = sample(before, "migrate_bot_requests_total", kind="downgrade", outcome="cancelled")
    errors = sample(
        before,
        "migrate_bot_slack_api_errors_total",
        method="conversations.info",
        error="channel_not_found",
    )

    bot.slack.inject(Fault("conversations.info", error="channel_not_found", channel=QA))
    _, request_id = ask(bot, "downgrade app -1", channel=QA)
    dm = wait_for(lambda: [t for t in dm_texts(bot, BOB) if request_id in t])[-1]
    assert f"|the request> in <#{QA}>." in dm  # no name from Slack: a mention Slack draws
    waiting = scrape(bot)
    assert sample(waiting, "migrate_bot_approvals_waiting", target="app") == 1
    assert (
        sample(
            waiting,
            "migrate_bot_slack_api_errors_total",
            method="conversations.info",
            error="channel_not_found",
        )
        == errors + 1
    )

    bot.runtime.flow.cancel(request_id, user=ALICE)
    after = scrape(bot)
    assert sample(after, "migrate_bot_approvals_waiting", target="app") == 0
    assert (
        sample(after, "migrate_bot_requests_total", kind="downgrade", outcome="cancelled")
        == cancelled + 1
    )
    assert top_level(bot, QA)  # the request was posted where it was asked
