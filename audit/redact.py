"""Remove secrets from text and data before they leave the process.

Two nets: patterns that look like secrets wherever they come from (a password
in a URL or a libpq conninfo, Slack tokens, AWS keys), and the exact values of
secrets this process has loaded (``remember``), so that a password quoted back
in an error message with no URL around it is caught too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host  ->  scheme://user:***@host
    (
        re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)(?=@)"),
        "head",
    ),
    # password=... in a libpq conninfo or a query string
    (
        re.compile(r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?P<secret>'[^']*'|[^\s&;]+)", re.I),
        "head",
    ),
    # PGPASSWORD=..., AWS_SECRET_ACCESS_KEY=..., *_TOKEN=... in an echoed environment
    (
        re.compile(
            r"(?P<head>\b[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN)[A-Z0-9_]*\s*[=:]\s*)(?P<secret>\S+)"
        ),
        "head",
    ),
    # Slack tokens: bot, user, app-level, refresh, config
    (re.compile(r"(?P<secret>\bxox[abeprs]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,})"), ""),
    # AWS access key ids
    (re.compile(r"(?P<secret>\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)"), ""),
)


class Redactor:
    """Masks secret-looking text and every secret value it has been told of."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, *secrets: str | None) -> None:
        """Mask these exact values from now on (short values are ignored: too noisy)."""
        with self._lock:
            self._known.update(s for s in secrets if s and len(s) >= 4)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for pattern, head in _PATTERNS:
            text = pattern.sub(_masked(head), text)
        with self._lock:
            known = sorted(self._known, key=len, reverse=True)
        for secret in known:
            text = text.replace(secret, MASK)
        return text

    def redact_data(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted (keys included)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(v) for v in value]
        return value


redactor = Redactor()
"""The process-wide redactor: fronts and stores share what it has learnt."""


def redact(text: str) -> str:
    """Shorthand for ``redactor.redact``."""
    return redactor.redact(text)


def _masked(head: str) -> Callable[[re.Match[str]], str]:
    """A match replaced by its ``head`` group (what names the secret, kept) and the mask."""

    def replace(match: re.Match[str]) -> str:
        return (match.group(head) if head else "") + MASK

    return replace
