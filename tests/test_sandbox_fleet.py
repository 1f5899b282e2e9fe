"""The sandbox's fleet, as the README tells a new user to try it, in a real browser.

The shipped demo config's ``tenants`` fleet, its four members on the session's
PostgreSQL (reset by the sandbox at start: three at the first revision, one a
revision ahead): ``/migrate status tenants`` → ``/migrate upgrade tenants`` as
Alice → Approve as Bob → the live status, then every member succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.runtime import start_bot
from bot.sandbox.sandbox import Sandbox
from bot.sandbox.settings import SandboxSettings
from commands.config.targets_file import DEMO_FLEET, DEMO_TARGET, demo_config
from commands.postgres.database_url import DatabaseUrl
from commands.state.vocabulary import MemberState, RequestState
from tests.support.databases import create_database, drop_database
from tests.support.polling import wait_for
from tests.support.sandbox_page import (
    APPROVER,
    DATABASE_ENV,
    PEOPLE,
    REQUESTER,
    WAIT_MS,
    messages,
    send,
    switch_to,
    tick_every_box,
)

MEMBERS_ENV = "SANDBOX_TEST_TENANT_URLS"
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def sandbox(pg_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    config = demo_config(tmp_path_factory.mktemp("sandbox-fleet"))
    shipped = config.target(DEMO_FLEET)
    assert shipped.fleet is not None
    members = {
        name: create_database(pg_server, "tenant") for name in shipped.fleet.embedded_members
    }
    database = create_database(pg_server, "sandbox")
    demo = replace(
        config.target(DEMO_TARGET), embedded_postgres=None, database_url_env=DATABASE_ENV
    )
    fleet = replace(
        shipped,
        embedded_postgres=None,
        fleet=replace(shipped.fleet, members_env=MEMBERS_ENV, embedded_members=()),
    )
    urls = {name: db.text() for name, db in members.items()}
    with pytest.MonkeyPatch.context() as env:
        env.setenv(DATABASE_ENV, database.text())
        env.setenv(MEMBERS_ENV, json.dumps(urls))
        running = Sandbox(
            config=replace(config, targets={DEMO_TARGET: demo, DEMO_FLEET: fleet}),
            settings=SandboxSettings(people=PEOPLE, rows=400),
            build_bot=start_bot,
        )
        with running:
            running.prepare()
            yield running
    for made in (database, *members.values()):
        drop_database(pg_server, made)


@pytest.fixture
def page(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    opened = context.new_page()
    opened.goto(sandbox.url)
    expect(opened.locator("body")).to_have_attribute("data-loaded", "true")
    yield opened
    context.close()


@pytest.mark.slow  # the fleet's Slack flow runs in test_fleet_flow.py; this is the page's
def test_the_demo_fleet_is_asked_approved_and_run_in_waves_from_the_page(
    page: Page, sandbox: Sandbox, artifacts: Path
) -> None:
    assert list(sandbox.fleet_reset) == ["acme", "globex", "initech", "umbrella"]
    switch_to(page, REQUESTER)
    send(page, f"/migrate status {DEMO_FLEET}")
    status = messages(page, "ephemeral").last
    expect(status.locator(".b-header")).to_have_text(f"{DEMO_FLEET}: ⏳ 0 of 4 members at head")

    send(page, f"/migrate upgrade {DEMO_FLEET}")
    request = messages(page).filter(has_text=f"upgrade {DEMO_FLEET} (fleet)").last
    expect(request).to_contain_text("4 of 4 members", timeout=WAIT_MS * 4)
    expect(request).to_contain_text("Members by starting revision")
    expect(request).to_contain_text("1, then 50% (2), then the rest (1)")
    page.screenshot(path=artifacts / "sandbox-fleet-request.png")

    # the requester ticks the runbook's checklist
    boxes = request.locator(".checkboxes input[type=checkbox]")
    tick_every_box(sandbox, boxes)

    switch_to(page, APPROVER)
    request.locator("button[data-action-id=approve]").click()
    expect(request).to_contain_text("Succeeded", timeout=RUN_TIMEOUT_MS)
    expect(request).to_contain_text("4 succeeded")
    page.screenshot(path=artifacts / "sandbox-fleet-succeeded.png")

    requests = sandbox.bot.runtime.requests if sandbox.bot else None
    assert requests is not None
    (done,) = [r for r in requests.requests(target=DEMO_FLEET)]
    assert done.state is RequestState.SUCCEEDED
    assert {m.state for m in done.members.values()} == {MemberState.SUCCEEDED}
    assert [w.members for w in done.waves] == [("acme",), ("globex", "initech"), ("umbrella",)]
    wait_for(lambda: done.requester == REQUESTER)
