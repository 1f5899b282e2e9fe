"""A request's life in the sandbox, in a real browser: the approver's direct message and
App Home, a rejection with its reason, an approved run to its watch, the request log.

One sandbox for the module (``tests/support/sandbox_fixtures.py``), one Chromium for the
session.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from bot.runtime import start_runtime
from bot.sandbox.sandbox import Sandbox
from bot.views.ids import ActionId
from commands.config.targets_file import DEMO_TARGET
from commands.migration.planning import status
from commands.targets import open_target
from commands.units import format_duration
from tests.support.polling import wait_for
from tests.support.sandbox_page import (
    APPROVER,
    REQUESTER,
    WAIT_MS,
    WATCH_S,
    last_seq,
    messages,
    next_sent,
    send,
    switch_to,
    tick_every_box,
)

WATCH = format_duration(WATCH_S)
# one chat.update a second per message (Slack's Tier 3 pace), as the sandbox's bot runs
PACING_S = inspect.signature(start_runtime).parameters["min_update_interval"].default


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
    fresh = page.context.new_page()  # the same browser, a page opened afresh
    fresh.goto(sandbox.url)
    expect(fresh.locator("body")).to_have_attribute("data-loaded", "true")
    switch_to(fresh, APPROVER)
    fresh_dm = fresh.locator(f"#dms button[data-channel=D{APPROVER[1:]}]")
    expect(fresh_dm).to_have_class(re.compile("unread"))  # still unread: he has not read it
    expect(fresh_dm.locator(".badge")).to_have_text(re.compile(r"^[1-9]"))
    fresh.close()
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
    expect(home).to_contain_text("Waiting for your approval", timeout=WAIT_MS)
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
    request_id = asked.locator(".b-header").inner_text().split(" ")[0]

    # the database's evidence: the simulated app still reads what the last revision drops
    expect(request).to_contain_text("videos.youtube_id", timeout=WAIT_MS)
    expect(request).to_contain_text("but the application ran")
    expect(request.locator(".option-description")).to_contain_text("still used")

    # the requester ticks the runbook's checklist
    boxes = request.locator('[data-block-id^="checklist:"] input[type=checkbox]')
    tick_every_box(sandbox, boxes)

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
    said = page.locator("#status-line")  # the click in the page's words, never an action id
    expect(said).to_contain_text("Bob ticked “I have read the live-use evidence")
    expect(said).not_to_contain_text("live_use_ack")
    updates = len(sandbox.slack.calls("chat.update"))
    click_action(page, request.locator("[data-action-id^=approve]"))
    expect(page.locator("#messages")).to_contain_text(
        re.compile("succeeded", re.I), timeout=180_000
    )

    def shown() -> list[str]:
        return [json.dumps(c.args) for c in sandbox.slack.calls("chat.update")[updates:]]

    wait_for(lambda: (texts := shown()) and "Succeeded" in texts[-1])  # ends with the outcome…
    ran = sandbox.bot.runtime.requests.get(request_id) if sandbox.bot else None
    assert ran is not None and ran.run is not None and ran.closure is not None
    if (ran.closure.at - ran.run.started_at).total_seconds() > 2 * PACING_S:
        # …after showing the run live; a shorter run may end inside one pacing interval,
        # where its last picture rightly replaces the live one before it is sent
        assert any("running" in text for text in shown())
    expect(request.locator(".edited")).to_be_visible()
    wait_for(lambda: status(handle).at_head, timeout=60)

    def replies() -> str:
        ts = request.get_attribute("data-ts")
        found = sandbox.slack.workspace.messages.get(sandbox.ops_channel, {}).values()
        return " ".join(m.text for m in found if m.thread_ts == ts and m.ts != ts)

    wait_for(lambda: f"Watching demo for {WATCH} after the run" in replies())  # the watch began
    expect(page.locator("#messages")).not_to_contain_text(re.compile(r"\bnull\b"))  # no gap drawn
    page.screenshot(path=artifacts / "sandbox-approved-run.png", full_page=True)

    # the run's replies opened its thread beside the channel, at the newest reply; the
    # application's queries on the dropped youtube_id now fail, and the watch says so
    thread = page.locator("#thread-messages")
    expect(page.locator("#thread-pane")).to_be_visible()
    summary = thread.locator("article", has_text=f"Watch of {request_id} on demo ended")
    expect(summary).to_be_visible(timeout=90_000)
    expect(summary).to_contain_text("🚨 application errors:")
    expect(summary).to_contain_text(re.compile(r"[\d,]+ transaction\(s\) rolled back"))
    expect(summary).to_contain_text("Signals read: statements (pg_stat_statements), failures")
    expect(summary).not_to_contain_text("no regression")
    expect(summary.locator(f"[data-action-id={ActionId.ROLL_BACK}]")).to_contain_text(
        f"Roll back to {ran.from_revisions[0]}"
    )
    restore = summary.locator(f"[data-action-id={ActionId.RESTORE_BACKUP}]")
    expect(restore).to_contain_text("Restore backup")
    expect(thread.locator("article").last).to_be_in_viewport()
    expect(page.locator("#hint")).to_contain_text("At start the demo database was reset")
    expect(page.locator("#hint")).not_to_contain_text("revisions are pending")
    page.screenshot(path=artifacts / "sandbox-watch-regression.png")


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
