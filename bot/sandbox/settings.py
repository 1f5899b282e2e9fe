"""What the sandbox starts with: its two people and how many rows the demo database gets.

Apart from the runner so that ``migrate-bot serve`` can read its options into
them without importing the bot, the local Slack and the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.people import People

DEFAULT_ROWS = 20_000  # about 2.5 s to reset and fill on 2 cores; enough for real sizes
WILDCARDS = ("0.0.0.0", "", "::")


@dataclass(frozen=True)
class SandboxSettings:
    """Who the two people are, how many rows the demo database gets at each start, and
    whether the command already printed the sandbox's first line (its address)."""

    people: People
    rows: int = DEFAULT_ROWS
    announced: bool = False


def sandbox_url(host: str, port: int) -> str:
    """The page's address (a wildcard bind is reached at 127.0.0.1)."""
    return f"http://{'127.0.0.1' if host in WILDCARDS else host}:{port}/"


def first_line(url: str, *, on_demo: bool, source: str) -> str:
    """What ``serve`` prints first, as soon as it knows the address."""
    doing = "preparing the demo database…" if on_demo else f"on {source}"
    return f"migrate-bot sandbox: {url} ({doing})"
