"""The sandbox in a real browser: the page drives the real bot through signed requests.

One sandbox for the module (the real Bolt app of ``migrate-bot serve``, the
local Slack server, the demo target on the session's PostgreSQL) and one
Chromium for the session; each test opens its own page. The bot's own posts
(through its Web API client) stand in for what the request flow will send.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from slack_sdk import WebClient

from bot.runtime import start_bot
from bot.sandbox.runner import Sandbox
from bot.sandbox.settings import SandboxSettings
from commands.config.targets_file import DEMO_TARGET
from commands.migration.planning import status
from commands.postgres.database_url import DatabaseUrl
from commands.targets import open_target
from tests.support.databases import create_database, drop_database
from tests.support.polling import wait_for
from tests.support.sandbox_page import (
    APPROVER,
    DATABASE_ENV,
    PEOPLE,
    REQUESTER,
    WAIT_MS,
    last_seq,
    messages,
    next_sent,
    sandbox_config,
    send,
    switch_to,
)


@pytest.fixture(scope="module")
def sandbox(
    pgss_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """The sandbox on a server that loads pg_stat_statements, as the demo's embedded one does."""
    database = create_database(pgss_server, "sandbox")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(DATABASE_ENV, database.url.render_as_string(hide_password=False))
        running = Sandbox(
            config=sandbox_config(tmp_path_factory.mktemp("sandbox")),
            settings=SandboxSettings(people=PEOPLE, rows=2_000),
            build_bot=start_bot,
        )
        with running:
            running.prepare()
            yield running
    drop_database(pgss_server, database)


@pytest.fixture
def page(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(sandbox.url)
    expect(opened.locator("body")).to_have_attribute("data-loaded", "true")  # history drawn
    expect(opened.locator("#people .person")).to_have_count(2)
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


@pytest.fixture
def bot_client(sandbox: Sandbox) -> WebClient:
    """The Web API as the bot sees it: what it posts here, the page must show."""
    return WebClient(token=sandbox.token, base_url=sandbox.slack.api_url)


def test_help_status_and_plan_with_its_sql_in_a_modal(
    page: Page, sandbox: Sandbox, artifacts: Path
) -> None:
    send(page, "/migrate help")
    expect(messages(page, "ephemeral").last).to_contain_text("/migrate: what it can do")
    expect(messages(page, "ephemeral").last.locator(".only-you")).to_have_text(
        "👁 Only visible to you"
    )

    send(page, "/migrate status demo")
    answer = messages(page, "ephemeral").last
    expect(answer.locator(".b-header")).to_have_text("demo: ⏳ 7 revision(s) pending")
    expect(answer.locator(".b-field").first).to_contain_text("Current")
    expect(answer.locator(".b-field code").first).to_have_text(sandbox.reset.revision)

    send(page, "/migrate plan demo")
    plan = messages(page, "ephemeral").last
    expect(plan.locator(".b-header")).to_have_text("Plan for demo: upgrade", timeout=WAIT_MS)
    before = last_seq(sandbox)
    plan.locator("button[data-action-id=view_sql]").click()
    modal = page.locator("#modal-layer .modal")
    expect(modal.locator("h2")).to_have_text("SQL: demo", timeout=WAIT_MS)
    expect(modal.locator("pre.code-block").first).to_contain_text("ALTER TABLE videos")
    page.screenshot(path=artifacts / "sandbox-plan-sql.png")

    click = next_sent(sandbox, "block_actions", before).body
    assert click["user"]["id"] == REQUESTER and click["team"]["id"] == sandbox.bridge.team_id
    assert click["container"]["is_ephemeral"] is True and "message" not in click
    assert click["response_url"].startswith(sandbox.local_url) and click["trigger_id"]
    (action,) = click["actions"]
    assert action["action_id"] == "view_sql" and action["value"].startswith("P-")
    assert action["text"]["text"] == "View SQL" and click["state"] == {"values": {}}

    modal.locator(".modal-close").click()
    expect(page.locator("#modal-layer")).to_be_hidden()


def test_bad_input_is_answered_in_an_ephemeral_and_nothing_runs(
    page: Page, sandbox: Sandbox
) -> None:
    before = last_seq(sandbox)
    calls = len(sandbox.slack.calls())
    send(page, "/migrate upgrad demo")
    answer = messages(page, "ephemeral").last
    expect(answer).to_contain_text("did you mean upgrade?")
    expect(answer.locator("code", has_text="upgrade")).to_have_count(1)
    command = next_sent(sandbox, "slash_command", before)
    assert command.status == 200 and json.loads(command.answer)["response_type"] == "ephemeral"
    assert command.body["text"] == "upgrad demo" and command.body["user_id"] == REQUESTER
    assert len(sandbox.slack.calls()) == calls  # the answer was the ack itself: no Web API call


def test_the_bots_posts_updates_threads_files_and_unknown_blocks_show_live(
    page: Page, sandbox: Sandbox, bot_client: WebClient, artifacts: Path
) -> None:
    channel = sandbox.ops_channel
    posted = bot_client.chat_postMessage(
        channel=channel,
        text="Request M-9",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "Request M-9: upgrade demo"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Bold* _italic_ ~gone~ `code`"
                    f" <https://example.com/runbook|the runbook> for <@{APPROVER}>\nsecond line",
                },
                "fields": [
                    {"type": "mrkdwn", "text": "*From*\n`3f9a1c2e7b10`"},
                    {"type": "mrkdwn", "text": "*To*\n`e2f6a8c0d376`"},
                ],
            },
            {"type": "divider"},
            {"type": "video", "title": {"type": "plain_text", "text": "not drawn"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "⏳ waiting"}]},
        ],
    )
    message = page.locator(f"#messages article[data-ts='{posted['ts']}']")
    expect(message.locator(".b-header")).to_have_text("Request M-9: upgrade demo")
    text = message.locator(".b-section .b-text")
    expect(text.locator("b")).to_have_text("Bold")
    expect(text.locator("i")).to_have_text("italic")
    expect(text.locator("s")).to_have_text("gone")
    expect(text.locator("code")).to_have_text("code")
    expect(text.locator("a")).to_have_attribute("href", "https://example.com/runbook")
    expect(text.locator(".mention")).to_have_text(f"@{PEOPLE.approver.name}")
    expect(text.locator("br")).to_have_count(1)
    expect(message.locator(".b-field")).to_have_count(2)
    expect(message.locator(".raw-json")).to_contain_text('"type": "video"')

    bot_client.chat_update(
        channel=channel,
        ts=posted["ts"],
        text="Request M-9",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "✅ *succeeded*"}}],
    )
    expect(message.locator(".b-text")).to_have_text("✅ succeeded")
    expect(message.locator(".edited")).to_have_text("(edited)")

    bot_client.chat_postMessage(channel=channel, thread_ts=posted["ts"], text="backup: 1.2 MB")
    toggle = message.locator(".thread-toggle")
    expect(toggle).to_have_text("1 reply")
    toggle.click()  # the thread opens in a pane beside the channel, as in Slack
    pane = page.locator("#thread-pane")
    expect(pane).to_be_visible()
    expect(pane.locator("article").first).to_contain_text("succeeded")  # the parent first
    expect(pane.locator("article").last).to_contain_text("backup: 1.2 MB")
    expect(page.locator("#thread-channel")).to_have_text("# migrate-ops")
    page.click("#thread-close")
    expect(pane).to_be_hidden()

    bot_client.files_upload_v2(
        channel=channel,
        content="SELECT 1;\n",
        filename="demo-plan.sql",
        title="SQL of the plan",
        initial_comment="The SQL, as a file",
    )
    snippet = messages(page).last.locator(".file")
    expect(snippet.locator("pre")).to_have_text("SELECT 1;\n")
    href = snippet.locator("a.download").get_attribute("href")
    assert page.request.get(f"{sandbox.local_url}{href}").text() == "SELECT 1;\n"
    page.screenshot(path=artifacts / "sandbox-live-updates.png", full_page=True)


def test_each_person_sees_only_their_own_ephemerals_and_direct_messages(
    page: Page, sandbox: Sandbox, bot_client: WebClient
) -> None:
    def shown_to(user: str) -> int:
        workspace = sandbox.slack.workspace
        return sum(
            e.user == user and e.channel == sandbox.ops_channel for e in workspace.ephemerals
        )

    requesters = shown_to(REQUESTER) + 1
    send(page, "/migrate help")
    expect(messages(page, "ephemeral")).to_have_count(requesters)
    switch_to(page, APPROVER)
    expect(messages(page, "ephemeral")).to_have_count(shown_to(APPROVER))
    approvers = shown_to(APPROVER) + 1
    send(page, "/migrate targets")
    expect(messages(page, "ephemeral")).to_have_count(approvers)
    expect(messages(page, "ephemeral").last).to_contain_text("demo")
    switch_to(page, REQUESTER)
    expect(messages(page, "ephemeral")).to_have_count(requesters)

    dm = bot_client.conversations_open(users=APPROVER)["channel"]["id"]
    bot_client.chat_postMessage(channel=dm, text="M-3 needs your approval")
    expect(page.locator(f"#dms button[data-channel={dm}]")).to_have_count(0)
    switch_to(page, APPROVER)
    page.click(f"#dms button[data-channel={dm}]")
    expect(page.locator("#channel-header")).to_have_text("migrate-bot (direct messages)")
    expect(messages(page).last).to_have_text(re.compile("M-3 needs your approval"))


def test_checkboxes_selects_and_confirmed_buttons_become_block_actions(
    page: Page, sandbox: Sandbox, bot_client: WebClient
) -> None:
    options = [
        {"text": {"type": "plain_text", "text": label}, "value": value}
        for label, value in (("Code reviewed", "code_reviewed"), ("Tested in staging", "staging"))
    ]
    posted = bot_client.chat_postMessage(
        channel=sandbox.ops_channel,
        text="checklist",
        blocks=[
            {
                "type": "actions",
                "block_id": "checklist",
                "elements": [
                    {"type": "checkboxes", "action_id": "tick", "options": options},
                    {"type": "static_select", "action_id": "window", "options": options},
                ],
            },
            {
                "type": "actions",
                "block_id": "decide",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "reject_sandbox_test",
                        "value": "M-7",
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Reject"},
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Reject M-7?"},
                            "text": {"type": "mrkdwn", "text": "It *cannot* be undone."},
                            "confirm": {"type": "plain_text", "text": "Reject"},
                            "deny": {"type": "plain_text", "text": "Keep it"},
                            "style": "danger",
                        },
                    }
                ],
            },
        ],
    )
    message = page.locator(f"#messages article[data-ts='{posted['ts']}']")
    before = last_seq(sandbox)
    message.get_by_label("Tested in staging").check()
    tick = next_sent(sandbox, "block_actions", before).body
    assert tick["actions"][0]["type"] == "checkboxes"
    assert [o["value"] for o in tick["actions"][0]["selected_options"]] == ["staging"]
    assert tick["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": sandbox.ops_channel,
        "is_ephemeral": False,
    }
    assert tick["message"]["ts"] == posted["ts"] and tick["channel"]["id"] == sandbox.ops_channel
    values = tick["state"]["values"]["checklist"]
    assert values["window"] == {"type": "static_select", "selected_option": None}

    reject = message.locator("button[data-action-id=reject_sandbox_test]")
    expect(reject).to_have_attribute("data-confirm", "yes")
    before = last_seq(sandbox)
    reject.click()
    dialog = page.locator("#confirm-layer .confirm-dialog")
    expect(dialog.locator("h2")).to_have_text("Reject M-7?")
    expect(dialog.locator("b")).to_have_text("cannot")
    dialog.locator(".deny").click()
    expect(dialog).to_be_hidden()
    assert sandbox.bridge.sent(before) == []
    reject.click()
    dialog.locator(".confirm").click()
    click = next_sent(sandbox, "block_actions", before).body
    assert click["actions"][0]["value"] == "M-7" and click["actions"][0]["style"] == "danger"
    assert [
        o["value"] for o in click["state"]["values"]["checklist"]["tick"]["selected_options"]
    ] == ["staging"]


def test_a_modal_with_inputs_is_submitted_as_a_view_submission(
    page: Page, sandbox: Sandbox, bot_client: WebClient
) -> None:
    switch_to(page, APPROVER)
    bot_client.views_open(
        trigger_id=sandbox.slack.workspace.new_trigger_id(APPROVER),
        view={
            "type": "modal",
            "callback_id": "reject_reason",
            "title": {"type": "plain_text", "text": "Reject M-7"},
            "submit": {"type": "plain_text", "text": "Reject"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "reason",
                    "label": {"type": "plain_text", "text": "Why?"},
                    "element": {"type": "plain_text_input", "action_id": "text"},
                }
            ],
        },
    )
    modal = page.locator("#modal-layer .modal")
    expect(modal.locator("h2")).to_have_text("Reject M-7")
    modal.locator("input.text-input").fill("not in the freeze week")
    before = last_seq(sandbox)
    modal.locator(".modal-submit").click()
    submitted = next_sent(sandbox, "view_submission", before).body
    assert submitted["user"]["id"] == APPROVER
    assert submitted["view"]["callback_id"] == "reject_reason"
    assert submitted["view"]["state"]["values"] == {
        "reason": {"text": {"type": "plain_text_input", "value": "not in the freeze week"}}
    }
    # no listener takes this form yet, so the bot refuses it and the modal says so
    expect(modal.locator(".b-error")).to_have_text("The bot did not accept this form.")
    switch_to(page, REQUESTER)
    expect(page.locator("#modal-layer")).to_be_hidden()


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("*a* _b_ ~c~", "<b>a</b> <i>b</i> <s>c</s>"),
        ("snake_case and 2*3*4", "snake_case and 2*3*4"),
        ("postgres:***@host", "postgres:***@host"),
        ("`x < y` &lt;b&gt;", "<code>x &lt; y</code> &lt;b&gt;"),
        ("```\nSELECT 1;\n```", '<pre class="code-block">SELECT 1;</pre>'),
        ("<javascript:alert(1)|x>", "&lt;javascript:alert(1)|x&gt;"),
        ("> quote\nline", '<span class="quote">quote</span><br>line'),
        # styles around code spans, as Slack draws them: no stray _ or *
        ("_run `alembic upgrade` first_", "<i>run <code>alembic upgrade</code> first</i>"),
        ("*Backup* `k7m2` _(2 MB)_", "<b>Backup</b> <code>k7m2</code> <i>(2 MB)</i>"),
        ("`a_b` and `c_d`", "<code>a_b</code> and <code>c_d</code>"),
        ("*M-3 `demo`*", "<b>M-3 <code>demo</code></b>"),
        # channels by name, never their id
        (
            "in <#C0DEMOOPS> and <#C0OTHER|other>",
            'in <span class="channel-link" data-channel="C0DEMOOPS">#migrate-ops</span> and'
            ' <span class="channel-link" data-channel="C0OTHER">#other</span>',
        ),
    ],
)
def test_mrkdwn_is_drawn_as_slack_does_and_never_as_raw_html(
    page: Page, text: str, html: str
) -> None:
    drawn = page.evaluate(
        "async (text) => (await import('/static/mrkdwn.js'))"
        ".mrkdwn(text, {C0DEMOOPS: 'migrate-ops'}, null)",
        text,
    )
    assert drawn == html


def test_the_approvers_dm_is_unread_links_to_the_request_and_home_rejects_with_a_reason(
    page: Page, sandbox: Sandbox
) -> None:
    send(page, "/migrate upgrade demo")
    asked = messages(page, "message").filter(has=page.locator("[data-action-id^=approve]")).last
    expect(asked).to_be_visible(timeout=60_000)
    request_id = asked.locator(".b-header").inner_text().split(" ")[0]

    switch_to(page, APPROVER)
    dm = page.locator(f"#dms button[data-channel=D{APPROVER[1:]}]")
    expect(dm).to_have_class(re.compile("unread"))  # Bob was told while Alice looked
    dm.click()
    expect(dm).not_to_have_class(re.compile("unread"))
    told = messages(page).filter(has_text=request_id).last
    expect(told).to_contain_text("in #migrate-ops")  # the channel by name, never its id
    told.locator("a.permalink").click()  # opens the channel, at the request
    expect(page.locator("#channel-header")).to_have_text("# migrate-ops")
    expect(page.locator(f'#messages article[data-ts="{asked.get_attribute("data-ts")}"]'))
    expect(page.locator("#messages article.highlight")).to_have_count(1)

    page.click("#home-nav")
    home = page.locator("#messages .home")
    expect(home).to_contain_text("Waiting for your approval")
    expect(home).to_contain_text(request_id)
    expect(page.locator("#composer")).to_be_hidden()
    home.locator(f"button[data-action-id=reject][title='value: {request_id}']").click()
    modal = page.locator("#modal-layer .modal")
    expect(modal.locator("h2")).to_have_text(f"Reject {request_id}", timeout=WAIT_MS)
    modal.locator("textarea.text-input").fill("not during the sale")
    modal.locator(".modal-submit").click()
    expect(page.locator("#modal-layer")).to_be_hidden()
    expect(home).to_contain_text("Waiting for your approval (0)", timeout=WAIT_MS)
    rejected = sandbox.bot.runtime.requests.get(request_id) if sandbox.bot else None
    assert rejected is not None and rejected.closure is not None
    assert rejected.closure.reason == "not during the sale"


def test_a_request_refused_to_its_requester_is_approved_by_the_approver_and_runs(
    page: Page, sandbox: Sandbox, artifacts: Path
) -> None:
    """The issue's end-to-end walk, as a new user would do it on the page."""
    handle = open_target(sandbox.config.target(DEMO_TARGET), os.environ)
    assert not status(handle).at_head

    send(page, "/migrate upgrade demo")
    asked = messages(page, "message").filter(has=page.locator("[data-action-id^=approve]")).last
    expect(asked).to_be_visible(timeout=60_000)
    # the same message all along, whatever it shows: found by its ts, not by its buttons
    request = page.locator(f'#messages article.message[data-ts="{asked.get_attribute("data-ts")}"]')

    # the database's evidence: the simulated app still reads what the last revision drops
    expect(request).to_contain_text("videos.youtube_id", timeout=WAIT_MS)
    expect(request).to_contain_text("but the application ran")
    expect(request.locator(".option-description")).to_contain_text("still used")

    # the requester ticks the runbook's checklist
    boxes = request.locator('[data-block-id^="checklist:"] input[type=checkbox]')
    for index in range(boxes.count()):
        if not boxes.nth(index).is_checked():
            before = last_seq(sandbox)
            boxes.nth(index).click()
            next_sent(sandbox, "block_actions", before)
            expect(boxes.nth(index)).to_be_checked()

    # approving their own request is refused, in an ephemeral, and nothing runs
    refusals = len(sandbox.slack.workspace.ephemerals)
    click_action(page, request.locator("[data-action-id^=approve]"))
    wait_for(
        lambda: any(e.user == REQUESTER for e in sandbox.slack.workspace.ephemerals[refusals:])
    )
    expect(messages(page, "ephemeral").last).to_be_visible()
    assert not status(handle).at_head

    switch_to(page, APPROVER)
    # the approver reads the evidence in full, and cannot approve before acknowledging it
    before = last_seq(sandbox)
    request.locator("button[data-action-id=view_live_use]").click()
    modal = page.locator("#modal-layer .modal")
    expect(modal.locator("h2")).to_contain_text("Live use: M-", timeout=WAIT_MS)
    expect(modal).to_contain_text("SELECT v.id, v.youtube_id, v.title")
    page.screenshot(path=artifacts / "sandbox-live-use.png")
    modal.locator(".modal-close").click()
    next_sent(sandbox, "block_actions", before)
    refusals = len(sandbox.slack.workspace.ephemerals)
    click_action(page, request.locator("[data-action-id^=approve]"))
    refused = wait_for(
        lambda: [e for e in sandbox.slack.workspace.ephemerals[refusals:] if e.user == APPROVER]
    )
    assert "the application still uses `videos.youtube_id`" in str(refused[0].text)
    acknowledge = request.locator('[data-block-id^="live_use:"] input[type=checkbox]')
    before = last_seq(sandbox)
    acknowledge.click()
    next_sent(sandbox, "block_actions", before)
    expect(request).to_contain_text("acknowledged by", timeout=WAIT_MS)
    expect(acknowledge).to_be_checked()
    updates = len(sandbox.slack.calls("chat.update"))
    click_action(page, request.locator("[data-action-id^=approve]"))
    expect(page.locator("#messages")).to_contain_text(
        re.compile("succeeded", re.I), timeout=180_000
    )

    def shown() -> list[str]:
        return [json.dumps(c.args) for c in sandbox.slack.calls("chat.update")[updates:]]

    wait_for(lambda: (texts := shown()) and "Succeeded" in texts[-1])  # ends with the outcome…
    assert any("running" in text for text in shown())  # …after showing the run live
    expect(request.locator(".edited")).to_be_visible()
    wait_for(lambda: status(handle).at_head, timeout=60)

    def replies() -> str:
        ts = request.get_attribute("data-ts")
        found = sandbox.slack.workspace.messages.get(sandbox.ops_channel, {}).values()
        return " ".join(m.text for m in found if m.thread_ts == ts and m.ts != ts)

    wait_for(lambda: "Watching demo for 30.0 s after the run" in replies())  # the watch began
    expect(page.locator("#messages")).not_to_contain_text(re.compile(r"\bnull\b"))  # no gap drawn
    page.screenshot(path=artifacts / "sandbox-approved-run.png", full_page=True)


def click_action(page: Page, button: Any) -> None:
    """Click, and confirm the button's dialog when it has one."""
    confirm = button.get_attribute("data-confirm") == "yes"
    button.click()
    if confirm:
        page.locator("#confirm-layer .confirm").click()


def test_the_request_log_numbers_each_request_once_and_a_narrow_window_works(
    browser: Browser, sandbox: Sandbox
) -> None:
    context = browser.new_context(viewport={"width": 700, "height": 800})
    narrow = context.new_page()
    narrow.goto(sandbox.url)
    expect(narrow.locator("body")).to_have_attribute("data-loaded", "true")
    narrow.click("#log-toggle")
    for text in ("/migrate help", "/migrate targets"):
        send(narrow, text)
        narrow.click("#log-toggle")  # closing and opening again reads the log again
        narrow.click("#log-toggle")
    entries = narrow.locator("#log-entries li")
    expect(entries).to_have_count(len(sandbox.bridge.sent()))  # each one, once
    expect(entries.first).to_contain_text("slash_command")
    numbers = [entries.nth(i).get_attribute("data-seq") for i in range(entries.count())]
    assert len(numbers) == len(set(numbers))
    assert entries.first.locator("summary").inner_text().startswith(f"#{numbers[0]} ")
    narrow.click("#log-toggle")
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 700, f"the page scrolls sideways at 700 px ({width} px)"
    expect(narrow.locator("#message-box")).to_be_visible()
    expect(messages(narrow, "ephemeral").last).to_be_in_viewport()
    context.close()


def test_make_run_is_the_sandbox_of_the_readme_and_its_screenshot(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """`make run PORT=…` as a new user types it (the default 20,000 segments), walked to a
    successful run. Its screenshot lands in test-artifacts/; `make screenshot` runs this test
    with MIGRATE_BOT_SCREENSHOT=docs to refresh the README's picture, docs/sandbox.png."""
    root = Path(__file__).resolve().parents[1]
    venv = root / ".venv"
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MIGRATE_BOT_"))}
    env.pop("PORT", None)
    command = ["make", "-s", "-f", str(root / "Makefile"), f"VENV={venv}"]
    command += ["-o", f"{venv}/.installed", "run", f"PORT={port}"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        assert any("20,000 segments" in line for line in printed), printed
        assert f"http://127.0.0.1:{port}/" in printed[0], printed
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        send(page, "/migrate upgrade demo")
        asked = messages(page, "message").filter(has=page.locator("[data-action-id^=approve]"))
        expect(asked.last).to_be_visible(timeout=60_000)
        request = page.locator(
            f'#messages article[data-ts="{asked.last.get_attribute("data-ts")}"]'
        )
        boxes = request.locator(".checkboxes input[type=checkbox]")
        for index in range(boxes.count()):
            boxes.nth(index).click()
            expect(boxes.nth(index)).to_be_checked()
        switch_to(page, APPROVER)
        acknowledge = request.locator('[data-block-id^="live_use:"] input[type=checkbox]')
        acknowledge.click()  # the demo's simulated app still reads what the last revision drops
        expect(request).to_contain_text("acknowledged by", timeout=60_000)
        request.locator("[data-action-id^=approve]").click()
        expect(request).to_contain_text("Succeeded", timeout=180_000)
        request.locator(".b-header").evaluate("node => node.scrollIntoView({block: 'start'})")
        expect(request.locator(".b-header")).to_be_in_viewport()
        page.screenshot(path=screenshot_path(root, artifacts))
        context.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the sandbox, as Ctrl-C would
        process.wait(60)
    assert process.stdout is not None
    assert "stopping the sandbox" in process.stdout.read()  # the sandbox ended cleanly


def screenshot_path(root: Path, artifacts: Path) -> Path:
    """test-artifacts/ by default: a test run must not rewrite a tracked file."""
    if os.environ.get("MIGRATE_BOT_SCREENSHOT") == "docs":
        return root / "docs" / "sandbox.png"
    return artifacts / "sandbox.png"
