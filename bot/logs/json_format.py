"""Log records as JSON, one object per line, for a log pipeline (``--log-format json``).

Each line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``request_id`` and
``target`` (``null`` when the line is about none), ``event`` (the message) and,
for an exception, ``error`` with its traceback. Every string is masked by the
redactor before it is serialised, so a secret never reaches the line, escaped
or not.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from audit.redact import redactor


class JsonFormatter(logging.Formatter):
    """``format(record)`` is one line of JSON; needs ``RequestFilter`` for the ids."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "target": getattr(record, "target", None),
            "event": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["error"] = self.formatStack(record.stack_info)
        return json.dumps(redactor.redact_data(line), ensure_ascii=False, default=str)
