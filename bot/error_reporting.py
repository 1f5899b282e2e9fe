"""One place that turns an error into what the user sees and what the log keeps.

A ``MigrateBotError`` is the user's to read: its message, redacted. Anything
else is a bug: the user gets a short apology with a correlation id, and the
log gets the same id with the redacted traceback, so the two can be matched.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable

from audit.redact import redact
from commands.errors import MigrateBotError

log = logging.getLogger("migrate_bot.errors")


class ErrorReporter:
    """``user_message(error, doing=...)`` for the user; the log line as a side effect."""

    def __init__(self, ref_factory: Callable[[], str] = lambda: secrets.token_hex(4)) -> None:
        self._ref = ref_factory

    def user_message(self, error: BaseException, *, doing: str) -> str:
        if isinstance(error, MigrateBotError):
            return f"⚠️ {redact(str(error))}"
        ref = self._ref()
        trace = "".join(traceback.format_exception(error))
        log.error("unexpected error %s (ref %s)\n%s", doing, ref, redact(trace))
        return (
            f"❌ Something went wrong on our side while {doing} (ref `{ref}`)."
            " It is in the bot's log; nothing was changed."
        )
