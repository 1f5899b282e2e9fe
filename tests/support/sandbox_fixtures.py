"""The sandbox for the browser tests: one per test module (the real Bolt app of
``migrate-bot serve``, the local Slack server, the demo target on a PostgreSQL that loads
pg_stat_statements), a page of it per test, and the Web API as the bot sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from slack_sdk import WebClient

from bot.runtime import start_bot
from bot.sandbox.sandbox import Sandbox
from bot.sandbox.settings import SandboxSettings
from commands.postgres.database_url import DatabaseUrl
from tests.support.databases import create_database, drop_database
from tests.support.sandbox_page import (
    DATABASE_ENV,
    PEOPLE,
    sandbox_config,
)


@pytest.fixture(scope="module")
def sandbox(
    pgss_server: DatabaseUrl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """The sandbox on a server that loads pg_stat_statements, as the demo's embedded one does."""
    database = create_database(pgss_server, "sandbox")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(DATABASE_ENV, database.text())
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
