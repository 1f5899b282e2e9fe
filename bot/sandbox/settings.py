"""What the sandbox starts with: its two people and how many rows the demo database gets.

Apart from the runner so that ``migrate-bot serve`` can read its options into
them without importing the bot, the local Slack and the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.people import People

DEFAULT_ROWS = 20_000  # about 2.5 s to reset and fill on 2 cores; enough for real sizes


@dataclass(frozen=True)
class SandboxSettings:
    """Who the two people are, and how many rows the demo database gets at each start."""

    people: People
    rows: int = DEFAULT_ROWS
