"""What the sandbox's browser tests share: the demo config on the session's PostgreSQL,
the two people, and what a person does on the page (type, switch, read what was sent)."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from bot.sandbox.bridge import Sent
from bot.sandbox.people import default_people
from bot.sandbox.sandbox import Sandbox
from commands.config.targets_file import DEMO_TARGET, Config, demo_config
from tests.support.polling import wait_for

DATABASE_ENV = "SANDBOX_TEST_DATABASE_URL"
PEOPLE = default_people()
REQUESTER, APPROVER = PEOPLE.requester.id, PEOPLE.approver.id
WAIT_MS = 30_000
WATCH_S = 8.0  # the demo's watch in the browser tests: long enough to compare, short to wait


def sandbox_config(tmp: Path) -> Config:
    """The shipped demo config, its database on the session's server instead of its own."""
    config = demo_config(tmp)
    target = config.target(DEMO_TARGET)
    demo = replace(
        target,
        embedded_postgres=None,
        database_url_env=DATABASE_ENV,
        watch=replace(target.watch, period=WATCH_S),
    )
    return replace(config, targets={DEMO_TARGET: demo})


def send(page: Page, text: str) -> None:
    page.fill("#message-box", text)
    page.press("#message-box", "Enter")


def messages(page: Page, kind: str | None = None) -> Any:
    suffix = f"[data-kind={kind}]" if kind else ""
    return page.locator(f"#messages article.message{suffix}")


def switch_to(page: Page, user: str) -> None:
    page.click(f"#people button[data-user={user}]")
    expect(page.locator(f"#people button[data-user={user}]")).to_have_class(re.compile("active"))


def next_sent(sandbox: Sandbox, kind: str, after: int) -> Sent:
    """The first request of ``kind`` the page sent to the bot after ``after``."""
    return wait_for(lambda: [s for s in sandbox.bridge.sent(after) if s.kind == kind])[0]


def last_seq(sandbox: Sandbox) -> int:
    sent = sandbox.bridge.sent()
    return sent[-1].seq if sent else 0


def tick_every_box(sandbox: Sandbox, boxes: Any) -> None:
    """Tick each box of ``boxes`` not ticked yet, each tick sent to the bot, as a person would.

    The request's message is drawn again whenever the bot updates it (its pre-flight
    evidence arrives in several updates): a click whose press and release land on two
    drawings of the box ticks nothing and sends nothing, and the person clicks again.
    """
    for index in range(boxes.count()):
        box = boxes.nth(index)
        deadline = time.monotonic() + 60
        while not box.is_checked():
            assert time.monotonic() < deadline, f"box {index} of the checklist never ticked"
            before = last_seq(sandbox)
            box.click()
            try:
                wait_for(
                    lambda after=before: [
                        s for s in sandbox.bridge.sent(after) if s.kind == "block_actions"
                    ],
                    timeout=5,
                )
            except AssertionError:
                continue  # the click fell between two drawings: nothing was sent
        expect(box).to_be_checked()
